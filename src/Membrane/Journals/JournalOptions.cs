namespace Membrane.Journals;

/// <summary>How a journal is created. Fixed at creation and recorded in the segment.</summary>
public sealed record JournalOptions
{
    /// <summary>Slots in the ring: a power of two. 65,536 by default.</summary>
    public long Capacity { get; init; } = 1 << 16;

    /// <summary>The largest entry, in bytes. 64 by default.</summary>
    public int SlotSize { get; init; } = 64;

    /// <summary>How many reader cursors the journal holds (1 to 1024). 8 by default, as in the design it answers.</summary>
    public int Cursors { get; init; } = 8;

    /// <summary>What the writer does when a reader falls a whole ring behind.</summary>
    public OverrunPolicy Policy { get; init; } = OverrunPolicy.Overwrite;

    /// <summary>One writer at a time (the default) or many at once.</summary>
    public JournalWriters Writers { get; init; } = JournalWriters.One;

    /// <summary>
    /// With <see cref="JournalWriters.Many"/>: how many writers may be open at once, in all processes together (1 to
    /// 1,024; 16 by default). Each takes a 64-byte slot of the segment. Ignored with one writer.
    /// </summary>
    public int MaxWriters { get; init; } = 16;

    /// <summary>
    /// Removes the journal when the last live process that has it open closes it (processes that died do not count, so
    /// the last one alive removes it even after a <c>kill -9</c> of the others). Off by default: a journal is meant to
    /// outlive its processes, so that a reader that crashed resumes at its committed cursor and entries wait for readers
    /// that have not started yet. For a journal that matters only while its processes run: a demo, a test, a session.
    /// Decided when the journal is created.
    /// </summary>
    public bool RemoveWhenUnused { get; init; }

    /// <summary>Permission bits of the segment, applied exactly; 0600 by default.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// How this process maps the segment: <see cref="Segments.SegmentMapping.Prefault"/> faults every page in at
    /// creation or open, so that the first lap does not pay a page fault a page; <see cref="Segments.SegmentMapping.LockInMemory"/>
    /// also keeps the pages in RAM. Each process chooses for its own mapping.
    /// </summary>
    public Segments.SegmentMapping Mapping { get; init; }

    /// <summary>The largest <see cref="Capacity"/>: 2^34 slots (and a journal's segment is at most 1 TiB besides).</summary>
    public const long MaxCapacity = JournalLayout.MaxCapacity;

    /// <summary>The largest <see cref="SlotSize"/>: 1 MiB.</summary>
    public const int MaxSlotSize = JournalLayout.MaxSlotSize;

    /// <summary>The writer slots the segment holds: none with one writer (its role is a single word).</summary>
    internal int WriterSlots => Writers == JournalWriters.Many ? MaxWriters : 0;

    internal void Validate(string name)
    {
        if (!JournalLayout.IsPowerOfTwo(Capacity) || Capacity > MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(null, Capacity, $"Journal '{name}': JournalOptions.Capacity is a power of two from 1 to {MaxCapacity} slots.");
        }
        if (SlotSize is <= 0 or > MaxSlotSize)
        {
            throw new ArgumentOutOfRangeException(null, SlotSize, $"Journal '{name}': JournalOptions.SlotSize is 1 to {MaxSlotSize} bytes.");
        }
        if (Cursors is <= 0 or > JournalLayout.MaxCursors)
        {
            throw new ArgumentOutOfRangeException(null, Cursors, $"Journal '{name}': JournalOptions.Cursors is 1 to {JournalLayout.MaxCursors}.");
        }
        if (Writers is not (JournalWriters.One or JournalWriters.Many))
        {
            throw new ArgumentOutOfRangeException(null, Writers, $"Journal '{name}': JournalOptions.Writers is One or Many.");
        }
        if (Writers == JournalWriters.Many && MaxWriters is <= 0 or > JournalLayout.MaxWriterSlots)
        {
            throw new ArgumentOutOfRangeException(null, MaxWriters, $"Journal '{name}': JournalOptions.MaxWriters is 1 to {JournalLayout.MaxWriterSlots}.");
        }
        long payload = JournalLayout.PayloadSize(SlotSize, Capacity, Cursors, WriterSlots);
        if (payload > Segments.SegmentHeaderLayout.MaxPayloadSize)
        {
            throw new ArgumentOutOfRangeException(null, Capacity,
                $"Journal '{name}': JournalOptions.Capacity of {Capacity:N0} slots of {JournalLayout.SlotStride(SlotSize):N0} bytes needs {payload:N0} bytes, more than a segment's 1 TiB.");
        }
    }
}
