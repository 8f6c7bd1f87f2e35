using System.Numerics;

namespace Membrane.Rings;

/// <summary>How a shared ring is created.</summary>
public sealed record RingOptions
{
    /// <summary>Bytes of record space, a power of two (64 B to 1 TiB). The largest message is half of it less 8.</summary>
    public long Capacity { get; init; } = 1 << 20;

    /// <summary>Permissions of the segment (0600 by default).</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// How this process maps the segment: <see cref="Segments.SegmentMapping.Prefault"/> faults every page in at
    /// creation or open, so that the first lap does not pay a page fault a page; <see cref="Segments.SegmentMapping.LockInMemory"/>
    /// also keeps the pages in RAM. Each process chooses for its own mapping.
    /// </summary>
    public Segments.SegmentMapping Mapping { get; init; }

    internal void Validate(string name)
    {
        if (Capacity < RingLayout.MinCapacity || Capacity > RingLayout.MaxCapacity || !BitOperations.IsPow2(Capacity))
        {
            throw new ArgumentException($"Ring '{name}': capacity {Capacity} must be a power of two from {RingLayout.MinCapacity} to {RingLayout.MaxCapacity} bytes.");
        }
    }
}
