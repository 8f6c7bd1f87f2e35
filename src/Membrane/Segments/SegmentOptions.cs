namespace Membrane.Segments;

/// <summary>How a segment is created and opened. The defaults suit one user sharing on one machine.</summary>
public sealed record SegmentOptions
{
    /// <summary>The default options.</summary>
    public static SegmentOptions Default { get; } = new();

    /// <summary>Where the bytes live; named shared memory by default.</summary>
    public SegmentBacking Backing { get; init; } = SegmentBacking.SharedMemory;

    /// <summary>
    /// The permission bits the segment is created with, applied exactly (the umask does not narrow them).
    /// Owner read/write (0600) by default; add group or other bits to share across users.
    /// </summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>How long <c>Open</c> waits for a live creator to finish initialising before it gives up.</summary>
    public TimeSpan InitialisationTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The directory a named shared-memory segment is created in or opened from, for this call only; null (the
    /// default) means <see cref="SegmentName.Directory"/>: <c>$MEMBRANE_DIR</c>, else /dev/shm. The segment is then the
    /// file of that name in this directory, reported with <see cref="SegmentBacking.File"/> and its full path as its name.
    /// Must be absolute. Ignored for other backings.
    /// </summary>
    public string? Directory { get; init; }

    /// <summary>
    /// Whether this process faults every page in at open, or locks them in memory (see <see cref="SegmentMapping"/>);
    /// each process chooses for itself. On hugetlbfs (a huge-page directory given as <see cref="Directory"/> or
    /// <c>MEMBRANE_DIR</c>) the segment is in huge pages whatever this says.
    /// </summary>
    public SegmentMapping Mapping { get; init; }

    /// <summary>
    /// When set at creation, the segment is removed when the last attached process detaches (and by
    /// <c>membrane gc</c> once every attached process died). Recorded in the header, so it holds for every process.
    /// </summary>
    public bool RemoveWhenUnused { get; init; }

    /// <summary>
    /// The name and options a call acts on once <see cref="Directory"/> is applied: a shared-memory name placed in a
    /// directory of its own is the file at that path.
    /// </summary>
    internal (string Name, SegmentOptions Options) Place(string name) =>
        Directory is null || Backing != SegmentBacking.SharedMemory
            ? (name, this)
            : (SegmentName.ResolveDirectory(Directory) + "/" + SegmentName.Validate(name), this with { Backing = SegmentBacking.File, Directory = null });
}
