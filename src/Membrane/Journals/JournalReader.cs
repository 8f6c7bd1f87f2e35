using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>
/// A reader attached to one cursor. It reads from its own position and persists that position only when told to
/// (<see cref="Commit()"/>), so the application decides when an entry counts as consumed; after a crash the next
/// reader of the cursor starts at the last commit. Entries are copied out: under the Overwrite policy a slot may be
/// rewritten at any moment, and a copy checked against the slot's stamp is the only delivery that cannot be torn.
/// With many writers, a sequence whose writer died between claiming and completing it is skipped as aborted (see
/// <see cref="Journal.AbandonedClaimCheck"/>), never delivered torn.
/// </summary>
[DebuggerDisplay("JournalReader {_journal.Name} cursor {CursorId} at {Position}")]
public sealed unsafe class JournalReader : IDisposable
{
    private const int MetricsBatch = 4096;

    /// <summary>Open readers, for the lag gauge; guarded by itself, so that none is disposed (and its journal unmapped) while the gauge reads it.</summary>
    private static readonly HashSet<JournalReader> s_open = [];
    private static readonly ObservableGauge<long> s_lag = MembraneMetrics.Meter.CreateObservableGauge(
        "membrane.journal.lag", ObserveLag, "{entry}", "Entries the writer is ahead of each open reader.");

    private readonly Journal _journal;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly WaitTally _tally;
    private readonly bool _manyWriters; // a sequence may be a hole left by a dead writer, and a slot may show any earlier lap
    private long _position;
    private long _pendingLost;
    private long _pendingAborted;
    private ClaimLookout _lookout = new(); // many writers: when to look at a claim not complete that holds this reader up
    private JournalRecord _waited; // what an asynchronous wait's read delivered
    private int _unreportedReads;
    private int _disposed;
    private readonly AdaptiveSpin _spin = new(); // how long a wait for the writer spins before it parks

    internal JournalReader(Journal journal, int cursorId, string? name, StartPosition start)
    {
        _journal = journal;
        CursorId = cursorId;
        _tag = MembraneMetrics.Tag(journal.Name);
        _tally = new WaitTally(_tag); // a journal keeps no wait counters of its own: stat shows its positions
        _manyWriters = journal.Writers == JournalWriters.Many;
        journal.Users.Add(journal, () => ClaimCursor(name));
        _position = StartingPosition(start);
        journal.RepairParkedReaders();
        lock (s_open)
        {
            s_open.Add(this);
        }
    }

    /// <summary>The cursor's index in the journal's cursor table.</summary>
    public int CursorId { get; }

    /// <summary>
    /// How long a wait for the writer spins before it parks, at least (20 µs by default); a wait whose park ended within
    /// 200 µs spins twice as long the next time (up to 200 µs), a longer park halves it again, down to this. Zero parks
    /// at once, always.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public TimeSpan SpinBeforeParking
    {
        get => _spin.Configured;
        set => _spin.Configured = value;
    }

    /// <summary>The sequence of the next entry this reader will deliver.</summary>
    public long Position => _position;

    /// <summary>The position persisted in the journal (what a restart would resume from).</summary>
    public long CommittedPosition
    {
        get
        {
            ThrowIfDisposed();
            return Volatile.Read(ref Cursor.Committed);
        }
    }

    /// <summary>Entries the writer has appended that this reader has not read yet.</summary>
    public long Lag
    {
        get
        {
            ThrowIfDisposed();
            return CurrentLag;
        }
    }

    private long CurrentLag => Math.Max(0, _journal.CurrentWritePosition - _position);

    /// <summary>Entries this reader lost to being lapped, since it attached.</summary>
    public long TotalLost { get; private set; }

    /// <summary>Holes this reader skipped (sequences whose writer died before completing them; many writers only), since it attached.</summary>
    public long TotalAborted { get; private set; }

    /// <summary>
    /// Copies the next entry into <paramref name="destination"/> if there is one, without waiting. A lapped reader's
    /// next record says how many entries it lost (<see cref="JournalRecord.LostBefore"/>), and how many holes of dead
    /// writers it skipped (<see cref="JournalRecord.AbortedBefore"/>). False when there is none yet,
    /// and when it is longer than <paramref name="destination"/>: then it stays next, and <paramref name="record"/> gives
    /// its sequence and length (<see cref="JournalRecord.Length"/> greater than the destination's), so that the caller can
    /// read it again into a buffer large enough.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryRead(Span<byte> destination, out JournalRecord record)
    {
        ThrowIfDisposed();
        long position = _position;
        long lost = _pendingLost;
        long aborted = _pendingAborted;
        bool provenPublished = false;
        while (true)
        {
            byte* slot = _journal.Slot(position);
            ref long stamp = ref Unsafe.AsRef<long>(slot + L.SlotStampOffset);
            long expected = L.CompleteStamp(position);
            // The stamp alone says whether the slot holds entry `position`, complete: a reader that keeps up never
            // touches the writer's position line, so the two cores pass the slot between them and nothing else.
            long before = Volatile.Read(ref stamp); // acquire; pairs with the writer's release of the even stamp
            if (before == expected)
            {
                int length = Unsafe.ReadUnaligned<int>(slot + L.SlotLengthOffset);
                if (length < 0)
                {
                    // A gap a relay wrote: this sequence stands for an entry lost or aborted upstream, if the stamp
                    // still says the marker read was this sequence's.
                    Volatile.ReadBarrier();
                    if (Volatile.Read(ref stamp) != expected)
                    {
                        continue;
                    }
                    if (length == L.LostGapLength)
                    {
                        lost++;
                    }
                    else if (length == L.AbortedGapLength)
                    {
                        aborted++;
                    }
                    else
                    {
                        ThrowCorrupt(position, $"entry length {(uint)length} in a {_journal.SlotSize}-byte slot");
                    }
                    position++;
                    provenPublished = false;
                    continue;
                }
                int copied = Math.Min(length, _journal.SlotSize);
                if (destination.Length < copied)
                {
                    Volatile.ReadBarrier();
                    if (Volatile.Read(ref stamp) == expected)
                    {
                        // An ordinary false: the entry stays next, and the record says how long it is.
                        NothingYet(position, lost, aborted, out record);
                        record = new JournalRecord(position, copied, lost, aborted);
                        return false;
                    }
                    continue; // overwritten meanwhile: look again (the lapped case)
                }
                new ReadOnlySpan<byte>(slot + L.SlotHeaderSize, copied).CopyTo(destination);
                // The copy's loads complete before the stamp is read again (pairs with the writer's WriteBarrier).
                Volatile.ReadBarrier();
                if (Volatile.Read(ref stamp) == expected)
                {
                    if (length != copied)
                    {
                        ThrowCorrupt(position, $"entry length {length} in a {_journal.SlotSize}-byte slot");
                    }
                    return Deliver(position, length, lost, aborted, out record);
                }
                // Overwritten while we copied it: fall through to the lapped case.
            }
            else if (before < expected)
            {
                if (before == L.WritingStamp(position) || before == PreviousLapStamp(position) || (_manyWriters && IsEarlierLap(before, position)))
                {
                    // Being written, or not begun. With many writers, perhaps never to be: a claim whose writer died.
                    if (_manyWriters && SkipIfAbandoned(position))
                    {
                        aborted++;
                        position++;
                        provenPublished = false;
                        continue;
                    }
                    return NothingYet(position, lost, aborted, out record);
                }
                // Any other smaller stamp is damage, but only once the position is known to be published: the stamp
                // we read may predate the writer's, so read it once more after the write position says it is there.
                if (position >= Volatile.Read(ref _journal.WritePositionRef))
                {
                    return NothingYet(position, lost, aborted, out record);
                }
                if (provenPublished)
                {
                    ThrowCorrupt(position, $"slot stamp {before} for published entry {position} (expected {expected})");
                }
                provenPublished = true;
                continue;
            }
            // Lapped: the slot holds (or is taking) a later entry, so this one is lost.
            long write = Volatile.Read(ref _journal.WritePositionRef);
            if (position >= write)
            {
                // A later lap's entry in a slot the writer has not even reached: no writer does that. (Taken for loss,
                // it would walk the reader past the write position for ever.)
                ThrowCorrupt(position, $"slot stamp {before} at or beyond the write position {write}");
            }
            if (write - position > _journal.Capacity)
            {
                // Everything before write - capacity has been overwritten for certain.
                lost += write - _journal.Capacity - position;
                position = write - _journal.Capacity;
            }
            else
            {
                lost++;
                position++;
            }
            provenPublished = false;
        }
    }

    /// <summary>The stamp a slot shows before the writer reaches <paramref name="position"/>: the previous lap's, or 0.</summary>
    private long PreviousLapStamp(long position) => position >= _journal.Capacity ? L.CompleteStamp(position - _journal.Capacity) : 0;

    /// <summary>
    /// Many writers: whether <paramref name="stamp"/> is one that the slot of <paramref name="position"/> may show before
    /// its writer reaches it: blank, or any earlier lap's (complete or being written), when claims of earlier laps died.
    /// </summary>
    private bool IsEarlierLap(long stamp, long position)
    {
        long stamped = L.StampedSequence(stamp);
        return stamp == 0 || (stamped >= 0 && stamped < position && (stamped & _journal.Mask) == (position & _journal.Mask));
    }

    /// <summary>
    /// Many writers: <paramref name="position"/> is not complete. Once the reader has found it so for
    /// <see cref="Journal.AbandonedClaimCheck"/> (and then at most that often), looks whether it is claimed and its
    /// claim's writer alive; true if it is a hole (claimed, not complete, no live writer naming it), to be skipped.
    /// </summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool SkipIfAbandoned(long position)
    {
        if (!_lookout.LookDue(position))
        {
            return false;
        }
        // Claimed (acquire: read before the writer slots), no live writer naming it, and, read again after the slots,
        // still not complete (a writer that completed it and moved on to its next claim stamped it complete first).
        if (position >= Volatile.Read(ref _journal.WritePositionRef) || !_journal.ClaimAbandoned(position)
            || Volatile.Read(ref _journal.StampOf(position)) >= L.CompleteStamp(position))
        {
            return false;
        }
        _lookout.Passed();
        return true;
    }

    private bool NothingYet(long position, long lost, long aborted, out JournalRecord record)
    {
        _position = position;
        _pendingLost = lost;
        _pendingAborted = aborted;
        record = default;
        return false;
    }

    /// <summary>Reads the next entry as a <typeparamref name="T"/>.</summary>
    public bool TryRead<T>(out T value, out JournalRecord record)
        where T : unmanaged
    {
        value = default;
        return TryRead(MemoryMarshal.AsBytes(new Span<T>(ref value)), out record);
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next entry: spins briefly, then parks on a futex the writer
    /// wakes (only readers that announced they are parked cost the writer a system call). False on timeout, and at once
    /// when the entry is longer than <paramref name="destination"/> (as <see cref="TryRead(Span{byte}, out JournalRecord)"/> says).
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryRead(Span<byte> destination, TimeSpan timeout, CancellationToken cancellation, out JournalRecord record)
    {
        if (TryRead(destination, out record))
        {
            return true;
        }
        // Says this reader may be counted in ParkedReaders, for as long as it may be (see Journal.RepairParkedReaders).
        // A release store before the wait's full-fenced count, and its clearing a release store after the count's return.
        Volatile.Write(ref Cursor.Waiting, 1);
        try
        {
            return WaitForEntry(destination, timeout, cancellation, out record);
        }
        finally
        {
            Volatile.Write(ref Cursor.Waiting, 0);
        }
    }

    private bool WaitForEntry(Span<byte> destination, TimeSpan timeout, CancellationToken cancellation, out JournalRecord record)
    {
        var read = new PendingRead(this, destination);
        // With many writers the wait parks in slices, so that its read looks at a claim whose writer may have died.
        bool got = SpinThenPark.Until(ref read, static (ref PendingRead r) => r.Reader.TryRead(r.Destination, out r.Record) || r.Record.Length > r.Destination.Length,
            checkPeer: _manyWriters ? static (ref PendingRead _) => { } : null,
            ref _journal.ParkedReaders, ref _journal.ReadersSignal, Parking.Futex, timeout, _spin, _tally, cancellation,
            beforeParking: CrashPoints.Armed ? static (ref PendingRead _) => CrashPoints.Reach(CrashPoints.JournalReadParked) : null);
        record = read.Record;
        return got && record.Length <= destination.Length;
    }

    /// <summary>Waits (without limit, but cancellable) for the next entry.</summary>
    /// <exception cref="ArgumentException">The entry is longer than <paramref name="destination"/> (it stays next).</exception>
    public JournalRecord Read(Span<byte> destination, CancellationToken cancellation = default)
    {
        if (!TryRead(destination, Timeout.InfiniteTimeSpan, cancellation, out JournalRecord record))
        {
            ThrowDestinationTooSmall(destination.Length, record.Length);
        }
        return record;
    }

    /// <summary>
    /// Waits asynchronously for the next entry. A parked wait holds no thread: it is handed to the process's futex
    /// reactor (a few threads wait for every parked reader and ring of the process; see the README's "Async").
    /// </summary>
    public ValueTask<JournalRecord> ReadAsync(Memory<byte> destination, CancellationToken cancellation = default) =>
        TryRead(destination.Span, out JournalRecord record) ? ValueTask.FromResult(record) : JournalAsync.ReadAsync(this, destination, cancellation);

    /// <summary>
    /// Every entry from this reader's position on, as they come, waiting (without a thread) for the writer in between;
    /// ends only by cancellation (or a disposed reader). Each entry's <see cref="JournalEntry.Data"/> lives in one buffer
    /// of the enumeration's, overwritten by the next entry.
    /// <para>
    /// Commits: when the loop comes back for the next entry, the one it had is committed (<see cref="Commit()"/>), so a
    /// reader of this cursor that starts after a crash resumes at the first entry whose loop body did not finish. An entry
    /// whose body broke out of the loop or threw is not committed. Entries are thus delivered at least once across crashes,
    /// exactly once without them.
    /// </para>
    /// </summary>
    public IAsyncEnumerable<JournalEntry> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return JournalAsync.ReadAllAsync(this, _journal.SlotSize, cancellationToken);
    }

    /// <summary>
    /// Says (or stops saying) that this reader may be counted in ParkedReaders, as around the wait in
    /// <see cref="TryRead(Span{byte}, TimeSpan, CancellationToken, out JournalRecord)"/>.
    /// </summary>
    internal void MarkWaiting(bool waiting) => Volatile.Write(ref Cursor.Waiting, waiting ? 1u : 0u);

    /// <summary>
    /// Waits without a thread until a read into <paramref name="destination"/> delivers the next entry, or finds it longer
    /// than <paramref name="destination"/>; what the read gave is then <see cref="Waited"/>.
    /// </summary>
    internal ValueTask<bool> ReadWhenReadyAsync(Memory<byte> destination, CancellationToken cancellation) =>
        SpinThenPark.UntilAsync((Reader: this, Destination: destination),
            static w => w.Reader.TryRead(w.Destination.Span, out w.Reader._waited) || w.Reader._waited.Length > w.Destination.Length,
            _manyWriters ? static _ => { } : null,
            (nint)Unsafe.AsPointer(ref _journal.ParkedReaders), (nint)Unsafe.AsPointer(ref _journal.ReadersSignal), _journal.Users,
            Parking.Futex, Timeout.InfiniteTimeSpan, _spin, _tally, cancellation,
            beforeParking: CrashPoints.Armed ? static _ => CrashPoints.Reach(CrashPoints.JournalReadParked) : null);

    /// <summary>What the read that ended <see cref="ReadWhenReadyAsync"/> gave.</summary>
    internal JournalRecord Waited => _waited;

    /// <summary>
    /// Moves the reader to <paramref name="sequence"/> (not committed until <see cref="Commit()"/>). A sequence already
    /// overwritten is reported as lost by the next read, as for a lapped reader.
    /// </summary>
    public void Seek(long sequence)
    {
        ThrowIfDisposed();
        long write = _journal.CurrentWritePosition;
        if (sequence < 0 || sequence > write)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"Journal '{_journal.Name}': sequences run from 0 to the write position {write}.");
        }
        _position = sequence;
        _pendingLost = 0;
        _pendingAborted = 0;
    }

    /// <summary>
    /// Persists <see cref="Position"/>: a restarted reader of this cursor resumes here, and a Block writer may now
    /// overwrite what came before.
    /// </summary>
    public void Commit()
    {
        ThrowIfDisposed();
        Store(_position);
    }

    /// <summary>
    /// Persists <paramref name="position"/>, a sequence this reader has reached (at most <see cref="Position"/>): for a
    /// reader that hands entries on and learns only later which arrived, such as a bridge, which commits what the far
    /// side acknowledged rather than what it read. A restarted reader resumes at <paramref name="position"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is negative or beyond <see cref="Position"/>.</exception>
    public void Commit(long position)
    {
        ThrowIfDisposed();
        if (position < 0 || position > _position)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Journal '{_journal.Name}': a reader at {_position} commits a position from 0 to {_position}.");
        }
        Store(position);
    }

    private void Store(long position)
    {
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.JournalCommitBeforeStore);
        }
        // Full fence; pairs with a parked Block writer's announcement, then its re-read of the cursors.
        Interlocked.Exchange(ref Cursor.Committed, position);
        _journal.WakeWriter();
        ReportReads();
    }

    /// <summary>Detaches from the cursor (it stays registered, at its committed position). Does not commit. Idempotent, never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        lock (s_open)
        {
            s_open.Remove(this);
        }
        ReportReads();
        ProcessClaim.Release(ref Cursor.Owner);
        _journal.Users.Remove();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private ref JournalCursor Cursor => ref _journal.Cursor(CursorId);

    /// <summary>A read in progress while it waits: where the entry goes, and what came.</summary>
    private ref struct PendingRead(JournalReader reader, Span<byte> destination)
    {
        public readonly JournalReader Reader = reader;
        public readonly Span<byte> Destination = destination;
        public JournalRecord Record;
    }

    private bool Deliver(long position, int length, long lost, long aborted, out JournalRecord record)
    {
        _position = position + 1;
        if ((lost | aborted) != 0)
        {
            CountGap(lost, aborted);
        }
        if (++_unreportedReads == MetricsBatch)
        {
            ReportReads();
        }
        record = new JournalRecord(position, length, lost, aborted);
        return true;
    }

    [MethodImpl(HotPath.OutOfLine)]
    private void CountGap(long lost, long aborted)
    {
        _pendingLost = 0;
        _pendingAborted = 0;
        if (lost > 0)
        {
            TotalLost += lost;
            MembraneMetrics.JournalLost.Add(lost, _tag);
        }
        if (aborted > 0)
        {
            TotalAborted += aborted;
            MembraneMetrics.JournalAborted.Add(aborted, _tag);
        }
    }

    private void ClaimCursor(string? name)
    {
        ref JournalCursor cursor = ref Cursor;
        if (ProcessClaim.TryClaim(ref cursor.Owner, ref cursor.OwnerBootTag, _journal.Processes) is { } holder)
        {
            throw new SegmentInUseException($"Cursor {CursorId} already has a live reader; a cursor takes one reader at a time.", _journal.Name,
                expected: "no reader attached to the cursor", found: $"reader pid {holder.Pid}");
        }
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.JournalCursorAfterClaim);
        }
        // A predecessor killed while waiting left its flag up; ours now (we are the cursor's only writer), and down.
        Volatile.Write(ref cursor.Waiting, 0);
        if (name is not null && cursor.ReadName() != name)
        {
            cursor.WriteName(name);
        }
    }

    private long StartingPosition(StartPosition start)
    {
        ref JournalCursor cursor = ref Cursor;
        bool registered = Volatile.Read(ref cursor.State) == JournalCursor.Registered;
        if (registered && start == StartPosition.Persisted)
        {
            return Volatile.Read(ref cursor.Committed);
        }
        long write = _journal.CurrentWritePosition;
        long position = start == StartPosition.Newest ? write : Math.Max(0, write - _journal.Capacity);
        if (!registered)
        {
            // Register: a Block writer must honour this cursor from now on. It notices by the epoch on its next append;
            // the one append it may already have begun can overwrite write - capacity, so a new cursor starts past it.
            Interlocked.Exchange(ref cursor.Committed, position);
            Interlocked.Exchange(ref cursor.State, JournalCursor.Registered);
            Interlocked.Increment(ref _journal.RegistrationEpoch);
            write = _journal.CurrentWritePosition;
            // With many writers the write position counts claims, and every append in flight is one of them.
            long safe = _journal.Policy != OverrunPolicy.Block ? 0
                : _manyWriters ? write - _journal.Capacity
                : write - _journal.Capacity + 1;
            position = Math.Max(position, safe);
            Interlocked.Exchange(ref cursor.Committed, position);
        }
        return position;
    }

    /// <summary>Read under the lock of the open set: a reader in it is not disposed, so its journal is mapped.</summary>
    private static List<Measurement<long>> ObserveLag()
    {
        lock (s_open)
        {
            return [.. s_open.Select(r => new Measurement<long>(r.CurrentLag, r._tag, new("membrane.cursor", r.CursorId)))];
        }
    }

    private void ReportReads()
    {
        if (_unreportedReads > 0)
        {
            MembraneMetrics.JournalRead.Add(_unreportedReads, _tag);
            _unreportedReads = 0;
        }
    }

    internal void ThrowDestinationTooSmall(int given, int needed) =>
        throw new ArgumentException($"Journal '{_journal.Name}': the entry is {needed} bytes, the destination {given}.");

    private void ThrowCorrupt(long position, string found) =>
        throw new SegmentCorruptException("A journal slot holds what no writer writes.", _journal.Name,
            expected: $"a complete entry {position}", found: found);
}
