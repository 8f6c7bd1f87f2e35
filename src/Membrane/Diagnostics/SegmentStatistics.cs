using System.Diagnostics;
using Membrane.Arcs;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Rings;
using Membrane.Segments;
using H = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Diagnostics;

/// <summary>
/// Reads the counters every segment kind keeps in its own memory (positions, parks and wakes, aborted claims, lock
/// cycles and dead owners), from a
/// read-only mapping: the reading process neither attaches nor writes, so it can watch any segment it may read, as
/// <c>membrane stat</c> does. Every shared value is read once and checked before it is used: a damaged segment is a
/// <see cref="SegmentCorruptException"/>, never a read outside the mapping.
/// </summary>
public static unsafe class SegmentStatistics
{
    /// <summary>Reads every ready journal, ring, queue and arc that <see cref="SegmentCatalog.List"/> finds; others are passed over.</summary>
    public static IReadOnlyList<SegmentSample> SampleAll()
    {
        var samples = new List<SegmentSample>();
        foreach (SegmentInfo info in SegmentCatalog.List())
        {
            if (info.InCreation || info.State != SegmentState.Ready || !IsSampled(info.Kind))
            {
                continue;
            }
            try
            {
                samples.Add(Sample(info.Name, info.Backing));
            }
            catch (SegmentNotFoundException)
            {
                // Removed since it was listed.
            }
        }
        return samples;
    }

    /// <summary>
    /// Reads one segment. <see cref="SegmentNotFoundException"/> if it does not exist, <see cref="ForeignSegmentException"/>
    /// for a file that is not a segment, <see cref="SegmentLayoutMismatchException"/> for a kind that keeps no counters
    /// (a raw segment) or a layout version this library does not read.
    /// </summary>
    public static SegmentSample Sample(string name, SegmentBacking backing = SegmentBacking.SharedMemory)
    {
        string canonical = backing == SegmentBacking.File ? name : SegmentName.Validate(name);
        using var view = SegmentView.Open(canonical, backing);
        ref SegmentHeader header = ref view.Header;
        var kind = (SegmentKind)header.Kind;
        if (header.LayoutVersion != H.LayoutVersion || !IsSampled(kind))
        {
            throw new SegmentLayoutMismatchException("It keeps no counters this library reads.", canonical,
                expected: $"a journal, ring, queue or arc of layout version {H.LayoutVersion}", found: $"a {kind} of layout version {header.LayoutVersion}");
        }
        var reader = new Reader(view.Pointer, view.Size, canonical);
        ProcessTable table = view.Processes;
        var sample = new SegmentSample { Name = canonical, Kind = kind, Timestamp = Stopwatch.GetTimestamp() };
        return kind switch
        {
            SegmentKind.Journal => sample with { Journal = ReadJournal(reader, table) },
            SegmentKind.Ring => sample with { Ring = ReadRing(reader) },
            SegmentKind.Queue => sample with { Queue = ReadQueue(reader) },
            _ => sample with { Arc = ReadArc(reader, table) },
        };
    }

    private static bool IsSampled(SegmentKind kind) => kind is SegmentKind.Journal or SegmentKind.Ring or SegmentKind.Queue or SegmentKind.Arc;

    private static JournalSample ReadJournal(Reader payload, ProcessTable table)
    {
        long capacity = payload.Int64(JournalLayout.CapacityOffset);
        uint count = payload.UInt32(JournalLayout.CursorCountOffset);
        payload.Check(count <= JournalLayout.MaxCursors && capacity > 0, "cursor count and capacity", $"{count} cursors, capacity {capacity}");
        var cursors = new List<CursorSample>((int)count);
        for (int id = 0; id < count; id++)
        {
            int at = JournalLayout.CursorTableOffset + (id * JournalLayout.CursorSize);
            ref JournalCursor cursor = ref payload.At<JournalCursor>(at, JournalLayout.CursorSize);
            ProcessIdentity? reader = ProcessClaim.Holder(ref cursor.Owner, ref cursor.OwnerBootTag);
            cursors.Add(new CursorSample(id, cursor.ReadName(), Volatile.Read(ref cursor.State) == JournalCursor.Registered,
                Volatile.Read(ref cursor.Committed), Lag: 0, Lapped: 0, reader?.Pid, reader is { } r && table.IsAlive(r.Packed)));
        }
        // The write position after the cursors (a position read before a commit could be behind it). It is the published
        // one, which a reader may pass by the entry a writer stamped and has yet to publish: hence the floor at 0 (and a
        // damaged cursor is shown, not refused).
        long write = payload.Int64(JournalLayout.WritePositionOffset);
        for (int id = 0; id < cursors.Count; id++)
        {
            long lag = Math.Max(0, write - cursors[id].Position);
            cursors[id] = cursors[id] with { Lag = lag, Lapped = Math.Max(0, lag - capacity) };
        }
        return new JournalSample(write, capacity, cursors);
    }

    private static RingSample ReadRing(Reader payload)
    {
        // What was read before what was written: the consumer never passes the producer, so the depth is never negative.
        long read = payload.Int64(RingLayout.HeadOffset);
        long written = payload.Int64(RingLayout.TailOffset);
        return new(payload.Int64(RingLayout.CapacityOffset), written, read,
            Pid(payload.UInt64(RingLayout.ProducerIdentityOffset)), Pid(payload.UInt64(RingLayout.ConsumerIdentityOffset)),
            new WaitSample(payload.Int64(RingLayout.ProducerParksOffset), payload.Int64(RingLayout.ProducerWakesOffset),
                payload.Int64(RingLayout.ConsumerParksOffset), payload.Int64(RingLayout.ConsumerWakesOffset)));
    }

    private static QueueSample ReadQueue(Reader payload)
    {
        long read = payload.Int64(QueueLayout.HeadOffset);
        long claimed = payload.Int64(QueueLayout.TailOffset);
        return new(payload.Int64(QueueLayout.CapacityOffset), claimed, read,
            payload.Int64(QueueLayout.AbortedClaimsOffset), Pid(payload.UInt64(QueueLayout.ConsumerIdentityOffset)),
            new WaitSample(payload.Int64(QueueLayout.ProducersParksOffset), payload.Int64(QueueLayout.ProducersWakesOffset),
                payload.Int64(QueueLayout.ConsumerParksOffset), payload.Int64(QueueLayout.ConsumerWakesOffset)));
    }

    private static ArcSample ReadArc(Reader payload, ProcessTable table)
    {
        ulong holder = payload.UInt64(ArcLayout.HolderOffset);
        long sequence = payload.Int64(ArcLayout.SequenceOffset);
        // Two steps of the sequence lock per lock cycle; an odd sequence is a cycle under way.
        return new ArcSample(Pid(holder), holder != 0 && table.IsAlive(holder), sequence / 2,
            payload.Int64(ArcLayout.OwnerDiedCountOffset), (sequence & 1) != 0);
    }

    private static int? Pid(ulong identity) => identity == 0 ? null : ProcessIdentity.Unpack(identity, 0).Pid;

    /// <summary>Bounds-checked, acquire reads of a mapped payload.</summary>
    private readonly struct Reader(byte* segment, long size, string name)
    {
        private readonly byte* _payload = segment + H.Size;
        private readonly long _length = size - H.Size;

        internal long Int64(int offset) => Volatile.Read(ref At<long>(offset, sizeof(long)));

        internal ulong UInt64(int offset) => Volatile.Read(ref At<ulong>(offset, sizeof(ulong)));

        internal uint UInt32(int offset) => Volatile.Read(ref At<uint>(offset, sizeof(uint)));

        internal ref T At<T>(int offset, int length) where T : unmanaged
        {
            Check(offset >= 0 && offset + (long)length <= _length, "a payload that holds its layout", $"{_length:N0} payload bytes");
            return ref *(T*)(_payload + offset);
        }

        internal void Check(bool condition, string expected, string found)
        {
            if (!condition)
            {
                throw new SegmentCorruptException("Its counters cannot be read.", name, expected: expected, found: found);
            }
        }
    }
}
