using Membrane.Segments;

namespace Membrane.Diagnostics;

/// <summary>
/// One reading of a segment's counters, taken by <see cref="SegmentStatistics"/> from outside any process that uses it.
/// Two readings of the same segment give rates (<see cref="SecondsSince"/>). Exactly one of the kind's parts is set.
/// </summary>
public sealed record SegmentSample
{
    /// <summary>The segment's name (a path for a file-backed one).</summary>
    public required string Name { get; init; }

    /// <summary>What the segment is.</summary>
    public required SegmentKind Kind { get; init; }

    /// <summary>When the reading was taken, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public required long Timestamp { get; init; }

    /// <summary>A journal's positions, or null.</summary>
    public JournalSample? Journal { get; init; }

    /// <summary>A ring's positions, or null.</summary>
    public RingSample? Ring { get; init; }

    /// <summary>A queue's positions, or null.</summary>
    public QueueSample? Queue { get; init; }

    /// <summary>An arc's lock, or null.</summary>
    public ArcSample? Arc { get; init; }

    /// <summary>Seconds from <paramref name="earlier"/> to this reading.</summary>
    public double SecondsSince(SegmentSample earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        return (Timestamp - earlier.Timestamp) / (double)System.Diagnostics.Stopwatch.Frequency;
    }
}

/// <summary>A journal's write position and every cursor's.</summary>
/// <param name="WritePosition">Entries published since creation (the next sequence).</param>
/// <param name="Capacity">Slots in the ring: a reader more than this far behind has lost entries.</param>
/// <param name="Cursors">Every cursor, registered or not.</param>
public sealed record JournalSample(long WritePosition, long Capacity, IReadOnlyList<CursorSample> Cursors);

/// <summary>One journal cursor.</summary>
/// <param name="Id">The cursor id.</param>
/// <param name="Name">The name it was attached by, or null.</param>
/// <param name="Registered">Whether a reader ever registered it (and it was not removed).</param>
/// <param name="Position">Its committed position: the next sequence its reader will read.</param>
/// <param name="Lag">Entries written that it has not committed.</param>
/// <param name="Lapped">Entries already overwritten before this reader got to them (lost when it reads on): its lag beyond the capacity.</param>
/// <param name="ReaderPid">The pid of the process attached to it, or null.</param>
/// <param name="ReaderAlive">Whether that process is alive.</param>
public readonly record struct CursorSample(int Id, string? Name, bool Registered, long Position, long Lag, long Lapped, int? ReaderPid, bool ReaderAlive);

/// <summary>A ring's byte positions, and what waiting cost each side.</summary>
/// <param name="Capacity">Bytes of room.</param>
/// <param name="BytesWritten">Bytes the producer published since creation (records, headers and padding included).</param>
/// <param name="BytesRead">Bytes the consumer released since creation.</param>
/// <param name="ProducerPid">The producer's pid, or null.</param>
/// <param name="ConsumerPid">The consumer's pid, or null.</param>
/// <param name="Waits">Parks and wakes of both sides since creation.</param>
public readonly record struct RingSample(long Capacity, long BytesWritten, long BytesRead, int? ProducerPid, int? ConsumerPid, WaitSample Waits)
{
    /// <summary>Bytes written and not yet read.</summary>
    public long Depth => BytesWritten - BytesRead;
}

/// <summary>A queue's byte positions and the claims its producers abandoned.</summary>
/// <param name="Capacity">Bytes of room.</param>
/// <param name="BytesClaimed">Bytes producers claimed since creation.</param>
/// <param name="BytesRead">Bytes the consumer released since creation.</param>
/// <param name="AbortedClaims">Claims skipped because their producer died holding them.</param>
/// <param name="ConsumerPid">The consumer's pid, or null.</param>
/// <param name="Waits">Parks and wakes of the producers (together) and the consumer since creation.</param>
public readonly record struct QueueSample(long Capacity, long BytesClaimed, long BytesRead, long AbortedClaims, int? ConsumerPid, WaitSample Waits)
{
    /// <summary>Bytes claimed and not yet read.</summary>
    public long Depth => BytesClaimed - BytesRead;
}

/// <summary>An arc's lock.</summary>
/// <param name="HolderPid">The pid holding the lock, or null when it is free.</param>
/// <param name="HolderAlive">Whether the holder is alive (a dead one hands the lock on with <c>PreviousOwnerDied</c>).</param>
/// <param name="Locks">Lock-and-unlock cycles completed since creation.</param>
/// <param name="OwnerDied">Lockers that found the previous owner dead holding the lock.</param>
/// <param name="ValueChanging">Whether the value is being changed now (its sequence lock is odd): a holder that died
/// so leaves it for the next locker to repair.</param>
public readonly record struct ArcSample(int? HolderPid, bool HolderAlive, long Locks, long OwnerDied, bool ValueChanging);

/// <summary>What waiting cost the two sides of a ring or queue: each park is a sleep in the kernel, each wake a system call.</summary>
/// <param name="ProducerParks">Times the producer (a queue's producers, together) slept waiting for room.</param>
/// <param name="ProducerWakes">Times the producer woke a sleeping consumer.</param>
/// <param name="ConsumerParks">Times the consumer slept waiting for a message.</param>
/// <param name="ConsumerWakes">Times the consumer woke a producer waiting for room.</param>
public readonly record struct WaitSample(long ProducerParks, long ProducerWakes, long ConsumerParks, long ConsumerWakes);
