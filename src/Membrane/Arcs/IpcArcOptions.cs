namespace Membrane.Arcs;

/// <summary>How an <see cref="IpcArc{T}"/> segment is created and opened.</summary>
public sealed record IpcArcOptions
{
    /// <summary>
    /// Permission bits of the segment, applied exactly. Owner read/write (0600) by default; add group or other bits
    /// to share the value across users.
    /// </summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// How this process maps the segment: <see cref="Segments.SegmentMapping.Prefault"/> faults every page in at
    /// creation or open, so that the first lap does not pay a page fault a page; <see cref="Segments.SegmentMapping.LockInMemory"/>
    /// also keeps the pages in RAM. Each process chooses for its own mapping.
    /// </summary>
    public Segments.SegmentMapping Mapping { get; init; }

    /// <summary>How long opening waits for a creator that is still initialising the value.</summary>
    public TimeSpan InitialisationTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
