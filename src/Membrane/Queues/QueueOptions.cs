using System.Numerics;

namespace Membrane.Queues;

/// <summary>How a shared queue is created.</summary>
public sealed record QueueOptions
{
    /// <summary>Bytes of record space, a power of two (256 B to 1 TiB). The largest message is half of it less 8.</summary>
    public long Capacity { get; init; } = 1 << 20;

    /// <summary>How many producers may be open at once, in all processes together (1 to 1,024; 64 by default).</summary>
    public int MaxProducers { get; init; } = 64;

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
        if (Capacity < QueueLayout.MinCapacity || Capacity > QueueLayout.MaxCapacity || !BitOperations.IsPow2(Capacity))
        {
            throw new ArgumentException($"Queue '{name}': capacity {Capacity} must be a power of two from {QueueLayout.MinCapacity} to {QueueLayout.MaxCapacity} bytes.");
        }
        if (MaxProducers is < 1 or > QueueLayout.MaxProducerSlots)
        {
            throw new ArgumentException($"Queue '{name}': MaxProducers {MaxProducers} must be from 1 to {QueueLayout.MaxProducerSlots}.");
        }
    }
}
