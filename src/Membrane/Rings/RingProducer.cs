using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Adapters;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Sync;
using L = Membrane.Rings.RingLayout;

namespace Membrane.Rings;

/// <summary>
/// The ring's one producer. Zero-copy: <see cref="TryReserve(int, out Span{byte})"/> hands out a span inside the
/// ring, <see cref="Commit"/> seals it as a message. Commits can be batched (<c>publish: false</c>, then
/// <see cref="Publish"/>) so that a burst costs one publication. No allocation, lock or system call unless the
/// consumer is parked.
/// </summary>
[DebuggerDisplay("RingProducer {_ring.Name} tail {_tail}")]
public sealed unsafe class RingProducer : IDisposable, ICompletableEnd, IMessageSink
{
    /// <summary>Reservations from this size on wake a parked consumer at once (a heads-up), not only at the commit.</summary>
    private const int HeadsUpSize = 64 * 1024;

    /// <summary>The smallest <see cref="PartSize"/> other than zero.</summary>
    private const int MinPartSize = 64;

    private readonly SharedRing _ring;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly long _heldBackLimit;
    private readonly byte* _data;
    private int _maxMessage;  // -1 once disposed: every fast path then falls to its slow path, which says why
    private long _tail;        // ours: where the next record goes (published or not)
    private long _published;   // the tail as last published
    private long _headSeen;    // the consumer's head as last read and checked
    private int _reservedLength = -1; // the open reservation's length (it is always at the tail), or -1 when none is open
    private int _partSize;
    private bool _completed;   // the consumer closed its end (see IsCompleted)
    private int _disposed;
    private readonly AdaptiveSpin _spin = new();

    /// <summary>
    /// How long a wait spins before it parks, at least (20 µs by default): spinning answers within a microsecond but burns
    /// a core. A wait whose park ended within 200 µs spins twice as long the next time (up to 200 µs), and a longer park
    /// halves it again, down to this: two processes answering each other learn to spin rather than wake each other for
    /// every message. Zero parks at once, always, for a side that would rather give the core away.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public TimeSpan SpinBeforeParking
    {
        get => _spin.Configured;
        set => _spin.Configured = value;
    }

    internal RingProducer(SharedRing ring)
    {
        _ring = ring;
        _capacity = ring.Capacity;
        _heldBackLimit = ring.HeldBackLimit;
        _mask = _capacity - 1;
        _data = ring.Data;
        _maxMessage = ring.MaxMessageSize;
        ring.ClaimRole(L.ProducerIdentityOffset, L.ProducerBootTagOffset, L.ProducerClosedOffset, L.ProducerWaitingOffset, "producer");
        // A replaced producer resumes at the published tail; whatever the dead one had not published is gone.
        _tail = Volatile.Read(ref ring.Field64(L.TailOffset));
        _published = _tail;
        _headSeen = Volatile.Read(ref ring.Field64(L.HeadOffset));
        if (_tail < 0 || (_tail & (L.Alignment - 1)) != 0 || _headSeen > _tail || _tail - _headSeen > _capacity || _headSeen < 0)
        {
            Dispose();
            throw ring.Violation("0 <= head <= tail <= head + capacity, 8-aligned", $"head {_headSeen}, tail {_tail}");
        }
        try
        {
            AbortOrphanedParts();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The largest message, in bytes.</summary>
    public int MaxMessageSize => _ring.MaxMessageSize;

    /// <summary>
    /// Copied messages (<see cref="TryWrite(ReadOnlySpan{byte})"/>, <see cref="Write"/>, <see cref="WriteAsync"/>) longer
    /// than this go into the ring in parts of at most this many bytes, each published as soon as it is copied in. A
    /// consumer reading with <see cref="RingConsumer.TryRead(Span{byte}, TimeSpan, CancellationToken, out int)"/> then
    /// copies the first parts out while the rest are still being copied in, so a large message crosses in about the time
    /// of one copy rather than two.
    /// Only that consumer call takes a message in parts; any other read of one is a <see cref="PeerViolationException"/>.
    /// Zero (the default) never splits; otherwise from 64 bytes to an eighth of the capacity.
    /// </summary>
    public int PartSize
    {
        get => _partSize;
        set
        {
            if (value != 0 && (value < MinPartSize || value > _capacity / 8))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Ring '{_ring.Name}': a part size is 0 (none) or {MinPartSize} to {_capacity / 8} bytes.");
            }
            _partSize = value;
        }
    }

    /// <summary>
    /// Reserves room for a message of up to <paramref name="length"/> bytes and gives the span to fill, without
    /// waiting; false when the ring is too full. One reservation at a time.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    public bool TryReserve(int length, out Span<byte> buffer)
    {
        // The common case, small enough to inline into the caller's loop: no call means no saved registers or spills,
        // and every store saved matters when the ring's lines are on the consumer's core. A store to them waits for
        // the line to come over, and the stores queued behind it (even to the stack) wait with it.
        long position = _tail & _mask;
        long size = L.RecordSize(length);
        if (_reservedLength < 0 && (uint)length < (uint)HeadsUpSize && length <= _maxMessage
            && size <= _capacity - position && size <= _capacity - (_tail - _headSeen))
        {
            _reservedLength = length;
            buffer = new Span<byte>(_data + position + L.RecordHeaderSize, length);
            return true;
        }
        return TryReserveSlowly(length, out buffer);
    }

    /// <summary>
    /// Everything <see cref="TryReserve(int, out Span{byte})"/> does not do inline: the checks that throw, a stale
    /// cached head, the padding at the wrap and the heads-up for a large message.
    /// </summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool TryReserveSlowly(int length, out Span<byte> buffer)
    {
        ThrowIfDisposed();
        if (_reservedLength >= 0)
        {
            ThrowReservationOpen();
        }
        if ((uint)length > (uint)_maxMessage)
        {
            ThrowTooLarge(length);
        }
        long size = L.RecordSize(length);
        long position = _tail & _mask;
        long toEnd = _capacity - position;
        if (!HasRoom(Needed(size, toEnd)))
        {
            buffer = default;
            return false;
        }
        if (size > toEnd)
        {
            WriteHeader(position, (int)(toEnd - L.RecordHeaderSize), L.PaddingKind);
            _tail += toEnd;
            position = 0;
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.RingReserveAfterPadding);
            }
        }
        _reservedLength = length;
        buffer = new Span<byte>(_data + position + L.RecordHeaderSize, length);
        if (length >= HeadsUpSize)
        {
            // Filling this takes long enough for a parked consumer to wake in the meantime (it then spins for the commit),
            // rather than after the commit: a core that has slept a while can take 70 µs to wake.
            if (SpinThenPark.WakeIfParked(ref _ring.Field64(L.TailOffset), ref _ring.Field32(L.ConsumerWaitingOffset), _ring.Parking, _ring.ProducerTally))
            {
                MembraneMetrics.HeadsUpWakes.Add(1, _ring.MetricTag);
            }
        }
        return true;
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for room (spin, then park); false on timeout, and once the consumer closed
    /// its end (<see cref="IsCompleted"/>: nothing written would be read).
    /// </summary>
    /// <exception cref="PeerGoneException">The consumer died, so room will never come.</exception>
    [MethodImpl(HotPath.Inline)]
    public bool TryReserve(int length, TimeSpan timeout, CancellationToken cancellation, out Span<byte> buffer) =>
        TryReserve(length, out buffer) || ReserveWaiting(length, timeout, cancellation, out buffer);

    [MethodImpl(HotPath.OutOfLine)]
    private bool ReserveWaiting(int length, TimeSpan timeout, CancellationToken cancellation, out Span<byte> buffer)
    {
        if (_tail != _published)
        {
            PublishTail(); // the consumer cannot make room out of messages it cannot see
        }
        var wait = (Producer: this, Length: length);
        bool reserved;
        try
        {
            reserved = !_completed && SpinThenPark.Until(ref wait, static (ref (RingProducer Producer, int Length) w) => w.Producer.TryReserve(w.Length, out _),
                static (ref (RingProducer Producer, int Length) w) => w.Producer.ThrowIfConsumerGone(),
                ref _ring.Field32(L.ProducerWaitingOffset), ref _ring.Field64(L.HeadOffset), _ring.Parking, timeout, _spin, _ring.ProducerTally, cancellation,
                beforeParking: CrashPoints.Armed ? static (ref (RingProducer, int) _) => CrashPoints.Reach(CrashPoints.RingWriteParked) : null);
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            _completed = true; // see IsCompleted
            reserved = false;
        }
        buffer = reserved ? new Span<byte>(_data + (_tail & _mask) + L.RecordHeaderSize, length) : default;
        return reserved;
    }

    /// <summary>
    /// Seals the reservation as a message of <paramref name="length"/> bytes (at most what was reserved). With
    /// <paramref name="publish"/> false it stays invisible until <see cref="Publish"/>, so a burst costs one publication
    /// (a burst that reaches a quarter of the ring or 64 KiB is published then: the consumer never starves, and copies
    /// out while the rest of a large burst is copied in).
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    public void Commit(int length, bool publish = true) => Seal(length, L.MessageKind, publish);

    /// <summary>Writes the open reservation's header as a record of <paramref name="kind"/> and moves the tail past it.</summary>
    [MethodImpl(HotPath.Inline)]
    private void Seal(int length, int kind, bool publish)
    {
        if (_reservedLength < 0 || (uint)length > (uint)_reservedLength)
        {
            ThrowCannotCommit(length);
        }
        WriteHeader(_tail & _mask, length, kind);
        _tail += L.RecordSize(length);
        _reservedLength = -1;
        if (publish || _tail - _published >= _heldBackLimit)
        {
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.RingCommitBeforePublish);
            }
            PublishTail(); // see SharedRing.HeldBackLimit
        }
    }

    /// <summary>Makes every committed message visible to the consumer, waking it if it is parked.</summary>
    [MethodImpl(HotPath.Optimised)]
    public void Publish()
    {
        ThrowIfDisposed();
        PublishTail();
    }

    [MethodImpl(HotPath.Optimised)]
    private void PublishTail()
    {
        SpinThenPark.Publish(ref _ring.Field64(L.TailOffset), _tail, ref _ring.Field32(L.ConsumerWaitingOffset), _ring.Parking, _ring.ProducerTally);
        _published = _tail;
    }

    /// <summary>Copies <paramref name="message"/> in and publishes it, without waiting; false when the ring is too full.</summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryWrite(ReadOnlySpan<byte> message)
    {
        if (InParts(message.Length))
        {
            return TryWriteInParts(message);
        }
        if (!TryReserve(message.Length, out Span<byte> buffer))
        {
            return false;
        }
        message.CopyTo(buffer);
        Commit(message.Length);
        return true;
    }

    /// <summary>
    /// Copies <paramref name="message"/> in and publishes it, waiting up to <paramref name="timeout"/> for room; false on
    /// timeout, and once the consumer closed its end (<see cref="IsCompleted"/>).
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryWrite(ReadOnlySpan<byte> message, TimeSpan timeout, CancellationToken cancellation = default)
    {
        if (InParts(message.Length))
        {
            return TryWriteInParts(message) || WriteInPartsWaiting(message, timeout, cancellation);
        }
        if (!TryReserve(message.Length, timeout, cancellation, out Span<byte> buffer))
        {
            return false;
        }
        message.CopyTo(buffer);
        Commit(message.Length);
        return true;
    }

    /// <summary>Copies <paramref name="message"/> in and publishes it, waiting for room as long as it takes.</summary>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The consumer closed its end: nothing written would be read.</exception>
    /// <exception cref="PeerGoneException">The consumer died.</exception>
    public void Write(ReadOnlySpan<byte> message, CancellationToken cancellation = default)
    {
        if (!TryWrite(message, Timeout.InfiniteTimeSpan, cancellation))
        {
            throw new System.Threading.Channels.ChannelClosedException($"Ring '{_ring.Name}': the consumer closed its end; nothing more will be read.");
        }
    }

    /// <summary>
    /// True once the consumer closed its end (its <c>Dispose</c>, or a channel or pipe reader's <c>Complete</c>): nothing
    /// written from then on would be read, and the waits for room end in false. A consumer that died is not a
    /// completion: the waits throw <see cref="PeerGoneException"/> instead.
    /// </summary>
    public bool IsCompleted => _completed;

    /// <summary>Called by a wait that heard the consumer's normal close (see <see cref="IsCompleted"/>).</summary>
    void ICompletableEnd.MarkCompleted() => _completed = true;

    /// <summary>
    /// Waits without holding a thread until a message of <paramref name="length"/> bytes fits (true), or the consumer
    /// closed its end (false: nothing more will be read, as a completed <see cref="System.Threading.Channels.ChannelWriter{T}"/>).
    /// An untrusted ring parks on its wake-up socket through one shared poll thread; a named ring on its futex word
    /// through the process's futex reactor (a few threads for all waits; see the README's "Async"). For a time limit,
    /// pass a token that a <see cref="CancellationTokenSource"/> cancels after it.
    /// </summary>
    /// <exception cref="PeerGoneException">The consumer died, so room will never come.</exception>
    public ValueTask<bool> WaitToWriteAsync(int length, CancellationToken cancellation = default)
    {
        ThrowIfDisposed();
        if ((uint)length > (uint)_maxMessage)
        {
            ThrowTooLarge(length);
        }
        if (HasRoom(RoomFor(length)))
        {
            return ValueTask.FromResult(true);
        }
        if (_completed)
        {
            return ValueTask.FromResult(false);
        }
        if (_tail != _published)
        {
            PublishTail();
        }
        ValueTask<bool> waiting = SpinThenPark.UntilAsync((Producer: this, Needed: RoomFor(length)), static w => w.Producer.HasRoom(w.Needed), static w => w.Producer.ThrowIfConsumerGone(),
            _ring.Address(L.ProducerWaitingOffset), _ring.Address(L.HeadOffset), _ring.Users, _ring.Parking, Timeout.InfiniteTimeSpan, _spin, _ring.ProducerTally, cancellation);
        return waiting.IsCompletedSuccessfully ? waiting : RingAsync.FalseOnCompletion(this, waiting);
    }

    /// <summary>Copies <paramref name="message"/> in and publishes it, waiting without holding a thread for room.</summary>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The consumer closed its end: nothing written would be read.</exception>
    /// <exception cref="PeerGoneException">The consumer died.</exception>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellation = default) =>
        SinkAsync.WriteAsync(this, message, cancellation);

    /// <summary>
    /// This producer as a <see cref="System.Threading.Channels.ChannelWriter{T}"/>: one message per item, each exactly
    /// <c>sizeof(T)</c> bytes. <c>Complete</c> closes this producer's end (as <see cref="Dispose"/> does): the consumer's
    /// channel reader completes once it has read everything. Write through one or the other, not both.
    /// </summary>
    public System.Threading.Channels.ChannelWriter<T> AsChannelWriter<T>()
        where T : unmanaged
    {
        ThrowIfDisposed();
        return new MessageChannelWriter<T>(this);
    }

    /// <summary>
    /// This producer as a <see cref="System.IO.Pipelines.PipeWriter"/>: the bytes written go as messages of up to 16 KiB.
    /// <c>GetMemory</c> lends room reserved in the ring itself when it has room (else a buffer of the writer's, copied in
    /// at the next flush, which waits for room); <c>FlushAsync</c> publishes. A consumer that closed its end completes
    /// the flush result; one that died makes it throw <see cref="PeerGoneException"/>. <c>Complete</c> publishes what is
    /// written and disposes this producer, which ends the reader's stream. Write through one or the other, not both.
    /// </summary>
    public System.IO.Pipelines.PipeWriter AsPipeWriter()
    {
        ThrowIfDisposed();
        return new RingPipeWriter(this);
    }

    /// <summary>The ring's name, for the adapters' messages.</summary>
    internal string RingName => _ring.Name;

    string IMessageSink.Description => $"Ring '{_ring.Name}'";

    /// <summary>
    /// Publishes what is committed, closes the producer's end (the consumer drains it, then hears it closed). Idempotent;
    /// every later call on this producer throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _reservedLength = -1;
        _maxMessage = -1;
        PublishTail();
        _ring.ReleaseRole(L.ProducerIdentityOffset, L.ProducerClosedOffset, L.ConsumerWaitingOffset, L.TailOffset, _ring.ProducerTally);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private bool InParts(int length) => _partSize != 0 && length > _partSize;

    /// <summary>
    /// A producer that died in the middle of a message in parts left its first parts published and the rest never. A
    /// consumer keeps such a message unread until it is whole, so anything written after it would be read as its next
    /// part: before writing anything, end it with an aborted record, which the consumer takes as "skip this message".
    /// The unread records from the head to the tail are walked once (all our predecessors' own, and checked as read).
    /// </summary>
    private void AbortOrphanedParts()
    {
        long missing = 0; // bytes of the last message in parts that never came
        for (long at = _headSeen; at < _tail;)
        {
            long position = at & _mask;
            ulong header = Unsafe.ReadUnaligned<ulong>(_data + position);
            int length = L.RecordLength(header);
            int kind = L.RecordKind(header);
            long size = kind == L.PaddingKind ? _capacity - position : L.RecordSize(length);
            if (length < 0 || size > _tail - at || size > _capacity - position || (kind == L.FirstPartKind && length < L.PartTotalSize))
            {
                throw _ring.Violation("whole records from the head to the tail", $"kind {kind}, length {length} at {position}");
            }
            missing = kind switch
            {
                L.FirstPartKind => Unsafe.ReadUnaligned<long>(_data + position + L.RecordHeaderSize) - (length - L.PartTotalSize),
                L.PartKind => missing - length,
                L.PaddingKind => missing,
                _ => 0,
            };
            at += size;
        }
        if (missing > 0)
        {
            if (!TryReserve(0, out _))
            {
                throw new InvalidOperationException($"Ring '{_ring.Name}': no room to end the message in parts a dead producer left unfinished.");
            }
            Seal(0, L.AbortedKind, publish: true);
        }
    }

    /// <summary>
    /// Copies <paramref name="message"/> in as parts, each published at once; false, with nothing written, unless there
    /// is room for all of them now (the consumer releases a message in parts only once it has all of it).
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    private bool TryWriteInParts(ReadOnlySpan<byte> message)
    {
        ThrowIfDisposed();
        if (_reservedLength >= 0)
        {
            ThrowReservationOpen();
        }
        if ((uint)message.Length > (uint)_maxMessage)
        {
            ThrowTooLarge(message.Length);
        }
        if (!HasRoom(RoomFor(message.Length)))
        {
            return false;
        }
        // The first part carries the whole length, so that a consumer can refuse a destination too small before it takes anything.
        Span<byte> first = ReserveCheckedRoom(Math.Min(_partSize, L.PartTotalSize + message.Length));
        Unsafe.WriteUnaligned(ref first[0], (long)message.Length);
        int copied = first.Length - L.PartTotalSize;
        message[..copied].CopyTo(first[L.PartTotalSize..]);
        Seal(first.Length, L.FirstPartKind, publish: true);
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.RingPartsAfterFirstPart);
        }
        while (copied < message.Length)
        {
            Span<byte> part = ReserveCheckedRoom(Math.Min(_partSize, message.Length - copied));
            message.Slice(copied, part.Length).CopyTo(part);
            Seal(part.Length, L.PartKind, publish: true);
            copied += part.Length;
        }
        return true;
    }

    private Span<byte> ReserveCheckedRoom(int length) =>
        TryReserve(length, out Span<byte> part) ? part : throw new InvalidOperationException($"Ring '{_ring.Name}': no room for a part after room was found for all of them.");

    /// <summary>What <see cref="TryWriteInParts"/> needs while it waits for room: the producer and the caller's message.</summary>
    private ref struct PartsToWrite
    {
        internal RingProducer Producer;
        internal ReadOnlySpan<byte> Message;
    }

    [MethodImpl(HotPath.OutOfLine)]
    private bool WriteInPartsWaiting(ReadOnlySpan<byte> message, TimeSpan timeout, CancellationToken cancellation)
    {
        if (_tail != _published)
        {
            PublishTail(); // the consumer cannot make room out of messages it cannot see
        }
        var write = new PartsToWrite { Producer = this, Message = message };
        try
        {
            return !_completed && SpinThenPark.Until(ref write, static (ref PartsToWrite w) => w.Producer.TryWriteInParts(w.Message),
                static (ref PartsToWrite w) => w.Producer.ThrowIfConsumerGone(),
                ref _ring.Field32(L.ProducerWaitingOffset), ref _ring.Field64(L.HeadOffset), _ring.Parking, timeout, _spin, _ring.ProducerTally, cancellation);
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            _completed = true; // see IsCompleted
            return false;
        }
    }

    /// <summary>
    /// Bytes that must be free from the tail on for a copied message of <paramref name="length"/> bytes: its record, or
    /// its parts (the whole length, then the bytes, cut into records of at most a part each) and one wrap's padding, which
    /// is shorter than a part's record. With parts at most an eighth of the ring, this never exceeds the capacity.
    /// </summary>
    private long RoomFor(int length)
    {
        if (!InParts(length))
        {
            return Needed(length);
        }
        long parts = (L.PartTotalSize + (long)length + _partSize - 1) / _partSize;
        return (parts + 1) * L.RecordSize(_partSize);
    }

    /// <summary>Bytes a record of <paramref name="length"/> bytes takes from the tail on: a record never straddles the end, so the rest is padded first.</summary>
    private long Needed(int length) => Needed(L.RecordSize(length), _capacity - (_tail & _mask));

    private static long Needed(long size, long toEnd) => size > toEnd ? toEnd + size : size;

    /// <summary>Whether <paramref name="needed"/> bytes are free now (the cached head first; the shared one only if that says no).</summary>
    [MethodImpl(HotPath.Optimised)]
    private bool HasRoom(long needed) => needed <= _capacity - (_tail - _headSeen) || needed <= _capacity - (_tail - RefreshHead());

    /// <summary>Reads the consumer's head once and checks it: it only moves forward, and never past our tail.</summary>
    [MethodImpl(HotPath.Optimised)]
    private long RefreshHead()
    {
        long head = Volatile.Read(ref _ring.Field64(L.HeadOffset)); // acquire; pairs with the consumer's publication
        if (head < _headSeen || head > _tail || (head & (L.Alignment - 1)) != 0)
        {
            throw _ring.Violation($"a head from {_headSeen} to the tail {_tail}, 8-aligned", $"head {head}");
        }
        _headSeen = head;
        return head;
    }

    private void ThrowIfConsumerGone() =>
        _ring.ThrowIfPeerGone(L.ConsumerIdentityOffset, L.ConsumerBootTagOffset, L.ConsumerClosedOffset, "consumer", "room in the ring");

    private void WriteHeader(long position, int length, int kind)
    {
        Unsafe.WriteUnaligned(_data + position, L.RecordHeader(length, kind)); // one store, not two: see TryReserve
    }

    private void ThrowCannotCommit(int length)
    {
        ThrowIfDisposed();
        if (_reservedLength < 0)
        {
            throw new InvalidOperationException($"Ring '{_ring.Name}': Commit without a reservation.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _reservedLength);
    }

    private void ThrowReservationOpen() =>
        throw new InvalidOperationException($"Ring '{_ring.Name}': a reservation is open; Commit it first.");

    private void ThrowTooLarge(int length) =>
        throw new ArgumentOutOfRangeException(nameof(length), length, $"Ring '{_ring.Name}': messages are 0 to {_ring.MaxMessageSize} bytes.");
}
