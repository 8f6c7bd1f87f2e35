using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.JournalLayout;

namespace Membrane;

/// <summary>
/// The journal's one writer. Appending is wait-free under <see cref="OverrunPolicy.Overwrite"/>: no lock, no
/// allocation, no system call unless a reader is parked. A writer that died is replaced by the next one, which
/// continues the sequence with no gap and no duplicate (an entry it had not published is written again).
/// </summary>
[DebuggerDisplay("JournalWriter {_journal.Name} next {_next}")]
public sealed unsafe class JournalWriter : IDisposable
{
    private const int MetricsBatch = 4096;
    private const int SpinsBeforePark = 64;

    private readonly Journal _journal;
    private readonly TimeSpan _blockTimeout;
    private readonly KeyValuePair<string, object?> _tag;
    private long _next;
    private long _blockLimit;
    private int _entryLimit; // the slot size; -1 once disposed, so that the one length check also catches use after Dispose
    private int _registrationEpoch = -1;
    private int _unreportedAppends;
    private int _disposed;

    internal JournalWriter(Journal journal, TimeSpan blockTimeout)
    {
        _journal = journal;
        _blockTimeout = blockTimeout;
        _tag = MembraneMetrics.Tag(journal.Name);
        _entryLimit = journal.SlotSize;
        journal.Users.Add(journal, ClaimWriterRole);
        journal.RepairParkedReaders();
        _next = journal.CurrentWritePosition;
        if (_next != journal.PublishedWritePosition)
        {
            // A writer died between stamping entries complete and publishing them. Readers deliver on the stamp alone,
            // so those entries may be read and committed already: they are published, never given to another entry.
            SpinThenPark.Publish(ref _journal.WritePositionRef, _next, ref _journal.ParkedReaders, Parking.Futex, _tag);
        }
    }

    /// <summary>The sequence the next <see cref="Append(ReadOnlySpan{byte})"/> gives its entry.</summary>
    public long NextSequence => _next;

    /// <summary>Appends one entry (at most the journal's slot size) and returns its sequence number.</summary>
    [MethodImpl(HotPath.Optimised)]
    public long Append(ReadOnlySpan<byte> entry)
    {
        if (entry.Length > _entryLimit)
        {
            ThrowTooLarge(entry.Length);
        }
        long sequence = _next;
        if (_journal.Policy == OverrunPolicy.Block
            && (sequence >= _blockLimit || Volatile.Read(ref _journal.RegistrationEpoch) != _registrationEpoch))
        {
            WaitForRoom(sequence);
        }
        byte* slot = _journal.Slot(sequence);
        ref long stamp = ref Unsafe.AsRef<long>(slot + L.SlotStampOffset);
        Volatile.Write(ref stamp, L.WritingStamp(sequence));
        // The odd stamp is visible before any byte of the new entry (pairs with the reader's ReadBarrier).
        Volatile.WriteBarrier();
        var destination = new Span<byte>(slot + L.SlotHeaderSize, entry.Length);
        if (CrashPoints.Armed)
        {
            CrashPoints.ReachMidCopy(CrashPoints.JournalAppendMidCopy, entry, destination);
        }
        entry.CopyTo(destination);
        Unsafe.WriteUnaligned(slot + L.SlotLengthOffset, entry.Length);
        // Release: the entry is complete before the even stamp (pairs with the reader's first stamp read).
        Volatile.Write(ref stamp, L.CompleteStamp(sequence));
        _next = sequence + 1;
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.JournalAppendBeforePublish);
        }
        SpinThenPark.Publish(ref _journal.WritePositionRef, sequence + 1, ref _journal.ParkedReaders, Parking.Futex, _tag);
        if (++_unreportedAppends == MetricsBatch)
        {
            EveryBatch();
        }
        return sequence;
    }

    /// <summary>Appends the bytes of <paramref name="entry"/>.</summary>
    public long Append<T>(in T entry)
        where T : unmanaged => Append(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in entry)));

    /// <summary>Gives up the writer role; the journal keeps every entry for its readers. Idempotent, never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _entryLimit = -1;
        ReportAppends();
        ProcessClaim.Release(ref _journal.WriterIdentity);
        _journal.Users.Remove();
    }

    private void ClaimWriterRole()
    {
        if (ProcessClaim.TryClaim(ref _journal.WriterIdentity, ref _journal.WriterBootTag, _journal.Processes) is { } holder)
        {
            throw new SegmentInUseException("The journal has a live writer already; it takes one writer at a time.", _journal.Name,
                expected: "no live writer", found: $"writer pid {holder.Pid}");
        }
    }

    /// <summary>Block policy: wait until every registered cursor is less than one ring behind <paramref name="sequence"/>.</summary>
    private void WaitForRoom(long sequence)
    {
        long deadline = _blockTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)(_blockTimeout.TotalSeconds * Stopwatch.Frequency);
        for (int round = 0; ; round++)
        {
            _registrationEpoch = Volatile.Read(ref _journal.RegistrationEpoch);
            int commitEpoch = Volatile.Read(ref _journal.CommitEpoch);
            _blockLimit = SlowestRegisteredCursor(out _) + _journal.Capacity;
            if (sequence < _blockLimit)
            {
                return;
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                ThrowStalled(sequence);
            }
            if (round < SpinsBeforePark)
            {
                Thread.SpinWait(1 << Math.Min(round, 10));
                continue;
            }
            // Announce, then re-check (pairs with the reader's commit exchange, then its read of WriterParked).
            Interlocked.Exchange(ref _journal.WriterParked, 1);
            try
            {
                if (sequence < SlowestRegisteredCursor(out _) + _journal.Capacity)
                {
                    continue;
                }
                MembraneMetrics.Parks.Add(1, _tag);
                // 100 ms slices: a deadline is honoured and a lost wake costs at most a slice.
                Futex.Wait((int*)Unsafe.AsPointer(ref _journal.CommitEpoch), commitEpoch, TimeSpan.FromMilliseconds(100));
            }
            finally
            {
                Volatile.Write(ref _journal.WriterParked, 0);
            }
        }
    }

    /// <summary>The smallest committed position among registered cursors (long.MaxValue - capacity when there is none).</summary>
    private long SlowestRegisteredCursor(out int slowest)
    {
        long minimum = long.MaxValue - _journal.Capacity;
        slowest = -1;
        for (int id = 0; id < _journal.CursorCount; id++)
        {
            ref JournalCursor cursor = ref _journal.Cursor(id);
            if (Volatile.Read(ref cursor.State) == JournalCursor.Registered)
            {
                long committed = Volatile.Read(ref cursor.Committed);
                if (committed < minimum)
                {
                    minimum = committed;
                    slowest = id;
                }
            }
        }
        return minimum;
    }

    private void ThrowStalled(long sequence)
    {
        long position = SlowestRegisteredCursor(out int slowest);
        CursorInfo cursor = _journal.ReadCursors()[slowest];
        string who = cursor.Owner is { } owner ? $"pid {owner.Pid}{(cursor.OwnerAlive ? "" : " (dead)")}" : "no reader attached";
        throw new ReaderStalledException(
            $"The writer waited {_blockTimeout.TotalSeconds:0.###} s for the slowest reader to make room (Block policy).", _journal.Name,
            expected: $"room for entry {sequence}", found: $"cursor {slowest}{(cursor.Name is null ? "" : $" '{cursor.Name}'")} at {position}, {who}");
    }

    /// <summary>Once every <see cref="MetricsBatch"/> appends: the metrics, and a count of parked readers that may include dead ones.</summary>
    private void EveryBatch()
    {
        ReportAppends();
        if (WaiterCount.Waiters(Volatile.Read(ref _journal.ParkedReaders)) != 0)
        {
            _journal.RepairParkedReaders();
        }
    }

    private void ReportAppends()
    {
        if (_unreportedAppends > 0)
        {
            MembraneMetrics.JournalAppended.Add(_unreportedAppends, _tag);
            _unreportedAppends = 0;
        }
    }

    private void ThrowTooLarge(int length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        throw new ArgumentException($"Journal '{_journal.Name}': an entry of {length} bytes does not fit its {_journal.SlotSize}-byte slots.");
    }
}
