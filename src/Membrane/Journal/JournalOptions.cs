namespace Membrane;

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

    /// <summary>Permission bits of the segment, applied exactly; 0600 by default.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    internal void Validate(string name)
    {
        if (!JournalLayout.IsPowerOfTwo(Capacity))
        {
            throw new ArgumentException($"Journal '{name}': the capacity must be a power of two, not {Capacity}.");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(SlotSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SlotSize, JournalLayout.MaxSlotSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Cursors);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Cursors, JournalLayout.MaxCursors);
    }
}
