using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Sync;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>
/// A journal's writer: the one writer (<see cref="JournalWriters.One"/>) or one of many. How a sequence is obtained
/// differs (<see cref="SoleWriter"/>, <see cref="SharedWriter"/>); how an entry is written into its slot, how the Block
/// policy waits for readers and how parked readers are woken is the same, and lives here. A writer is used by one
/// thread at a time. Appending takes no lock and allocates nothing, and makes no system call unless a reader is parked.
/// </summary>
[DebuggerDisplay("JournalWriter {Journal.Name}")]
public abstract unsafe class JournalWriter : IDisposable
{
    private const int MetricsBatch = 4096;
    private const int SpinsBeforePark = 64;

    private readonly TimeSpan _blockTimeout;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly WaitTally _tally;
    private long _blockLimit;
    private int _entryLimit; // the slot size; -1 once disposed, so that the one length check also catches use after Dispose
    private int _registrationEpoch = -1;
    private int _unreportedAppends;
    private int _disposed;

    private protected JournalWriter(Journal journal, TimeSpan blockTimeout)
    {
        Journal = journal;
        _blockTimeout = blockTimeout;
        _tag = MembraneMetrics.Tag(journal.Name);
        _tally = new WaitTally(_tag); // a journal keeps no wait counters of its own: stat shows its positions
        _entryLimit = journal.SlotSize;
    }

    /// <summary>
    /// The sequence the next <see cref="Append(ReadOnlySpan{byte})"/> gives its entry. With many writers, the next
    /// sequence unclaimed now, which another writer may take first.
    /// </summary>
    public abstract long NextSequence { get; }

    /// <summary>Appends one entry (at most the journal's slot size) and returns its sequence number.</summary>
    /// <exception cref="ReaderStalledException">Block policy: the slowest reader made no room within the writer's block timeout.</exception>
    public long Append(ReadOnlySpan<byte> entry) => AppendSlot(entry, entry.Length);

    /// <summary>
    /// Gives the next <paramref name="count"/> sequences to no entry, as a gap of the kind <paramref name="gap"/>: a reader
    /// that reaches them counts them in <see cref="JournalRecord.LostBefore"/> (<see cref="JournalGap.Lost"/>) or
    /// <see cref="JournalRecord.AbortedBefore"/> (<see cref="JournalGap.Aborted"/>) of the next entry it delivers, as
    /// it counts entries it was lapped past or holes of dead writers. For a relay of another journal (a bridge), so that
    /// its readers report what the first journal's reader lost, under the same sequences. Each sequence of the gap takes
    /// a slot, written as an entry is (and waited for under Block); a reader lapped within a gap counts what it passed as lost.
    /// </summary>
    /// <returns>The sequence the next entry gets.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative, or <paramref name="gap"/> is not a defined kind.</exception>
    public long AppendGap(long count, JournalGap gap)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int marker = gap switch
        {
            JournalGap.Lost => L.LostGapLength,
            JournalGap.Aborted => L.AbortedGapLength,
            _ => throw new ArgumentOutOfRangeException(nameof(gap), gap, "A gap is Lost or Aborted."),
        };
        long next = NextSequence;
        for (long i = 0; i < count; i++)
        {
            next = AppendSlot(ReadOnlySpan<byte>.Empty, marker) + 1;
        }
        return next;
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
        ReleaseRole();
        Journal.Users.Remove();
        GC.SuppressFinalize(this);
    }

    private protected Journal Journal { get; }

    private protected KeyValuePair<string, object?> MetricTag => _tag;

    /// <summary>
    /// Appends one slot as the next sequence: <paramref name="entry"/>'s bytes with <paramref name="length"/> in the slot's
    /// length field, which is the entry's length, or a gap marker (<see cref="L.LostGapLength"/>, with no bytes).
    /// </summary>
    private protected abstract long AppendSlot(ReadOnlySpan<byte> entry, int length);

    /// <summary>Gives the role (or the writer slot) up; the mapping is let go of afterwards.</summary>
    private protected abstract void ReleaseRole();

    /// <summary>Refuses an entry larger than a slot, and any append after <see cref="Dispose"/>.</summary>
    [MethodImpl(HotPath.Inline)]
    private protected void CheckLength(int length)
    {
        if (length > _entryLimit)
        {
            ThrowTooLarge(length);
        }
    }

    /// <summary>Block policy: whether <paramref name="sequence"/> may be past the room last found, so that <see cref="WaitForRoom"/> must look.</summary>
    [MethodImpl(HotPath.Inline)]
    private protected bool MayNeedRoom(long sequence) =>
        Journal.Policy == OverrunPolicy.Block
        && (sequence >= _blockLimit || Volatile.Read(ref Journal.RegistrationEpoch) != _registrationEpoch);

    /// <summary>
    /// Writes <paramref name="entry"/> into its slot as sequence <paramref name="sequence"/>: the odd stamp, the bytes and
    /// <paramref name="length"/> (theirs, or a gap marker), the even stamp (release). The caller owns the slot for this
    /// sequence: no other writer touches it.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    private protected void WriteEntry(long sequence, ReadOnlySpan<byte> entry, int length)
    {
        byte* slot = Journal.Slot(sequence);
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
        Unsafe.WriteUnaligned(slot + L.SlotLengthOffset, length);
        // Release: the entry is complete before the even stamp (pairs with the reader's first stamp read).
        Volatile.Write(ref stamp, L.CompleteStamp(sequence));
    }

    /// <summary>After an append is visible: wake parked readers (only if any said so), and the batch's bookkeeping.</summary>
    [MethodImpl(HotPath.Inline)]
    private protected void Appended()
    {
        WakeReaders();
        if (++_unreportedAppends == MetricsBatch)
        {
            EveryBatch();
        }
    }

    /// <summary>
    /// Wakes the readers parked on the readers' signal, only if the count says any are (after a full fence: pairs with a
    /// reader's count-in, then its last look).
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    private protected void WakeReaders() => SpinThenPark.Signal(ref Journal.ReadersSignal, ref Journal.ParkedReaders, Parking.Futex, _tally);

    /// <summary>Block policy: wait until every registered cursor is less than one ring behind <paramref name="sequence"/>.</summary>
    [MethodImpl(HotPath.OutOfLine)]
    private protected void WaitForRoom(long sequence)
    {
        long deadline = _blockTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)(_blockTimeout.TotalSeconds * Stopwatch.Frequency);
        for (int round = 0; ; round++)
        {
            _registrationEpoch = Volatile.Read(ref Journal.RegistrationEpoch);
            int commitEpoch = Volatile.Read(ref Journal.CommitEpoch);
            _blockLimit = SlowestRegisteredCursor(out _) + Journal.Capacity;
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
            // Announce, then re-check (pairs with the reader's commit exchange, then its read of WriterParked). With many
            // writers the flag is shared: one that wakes clears it while another may still sleep; the next writer to park
            // sets it again and the commit after that wakes them all (a wake is for every writer parked), else the sleeper's
            // 100 ms slice ends its sleep.
            Interlocked.Exchange(ref Journal.WriterParked, 1);
            try
            {
                if (sequence < SlowestRegisteredCursor(out _) + Journal.Capacity)
                {
                    continue;
                }
                MembraneMetrics.Parks.Add(1, _tag);
                // 100 ms slices: a deadline is honoured and a lost wake costs at most a slice.
                Futex.Wait((int*)Unsafe.AsPointer(ref Journal.CommitEpoch), commitEpoch, TimeSpan.FromMilliseconds(100));
            }
            finally
            {
                Volatile.Write(ref Journal.WriterParked, 0);
            }
        }
    }

    /// <summary>The smallest committed position among registered cursors (long.MaxValue - capacity when there is none).</summary>
    private long SlowestRegisteredCursor(out int slowest)
    {
        long minimum = long.MaxValue - Journal.Capacity;
        slowest = -1;
        for (int id = 0; id < Journal.CursorCount; id++)
        {
            ref JournalCursor cursor = ref Journal.Cursor(id);
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
        CursorInfo cursor = Journal.ReadCursors()[slowest];
        string who = cursor.Owner is { } owner ? $"pid {owner.Pid}{(cursor.OwnerAlive ? "" : " (dead)")}" : "no reader attached";
        throw new ReaderStalledException(
            $"The writer waited {_blockTimeout.TotalSeconds:0.###} s for the slowest reader to make room (Block policy).", Journal.Name,
            expected: $"room for entry {sequence}", found: $"cursor {slowest}{(cursor.Name is null ? "" : $" '{cursor.Name}'")} at {position}, {who}");
    }

    /// <summary>Once every <see cref="MetricsBatch"/> appends: the metrics, and a count of parked readers that may include dead ones.</summary>
    [MethodImpl(HotPath.OutOfLine)]
    private void EveryBatch()
    {
        ReportAppends();
        if (WaiterCount.Waiters(Volatile.Read(ref Journal.ParkedReaders)) != 0)
        {
            Journal.RepairParkedReaders();
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

    [MethodImpl(HotPath.OutOfLine)]
    private void ThrowTooLarge(int length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        throw new ArgumentException($"Journal '{Journal.Name}': an entry of {length} bytes does not fit its {Journal.SlotSize}-byte slots.");
    }
}
