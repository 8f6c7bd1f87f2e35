using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Adapters;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Sync;
using L = Membrane.Queues.QueueLayout;

namespace Membrane.Queues;

/// <summary>
/// The queue's one consumer. Zero-copy: <see cref="TryRead(out QueueLease)"/> lends the next message in place; disposing
/// the lease releases it (its room is zeroed and returned to the producers). Messages come in the order their claims
/// were made; a claim whose producer died before committing it is skipped as aborted (see <see cref="AbandonedClaimCheck"/>).
/// </summary>
[DebuggerDisplay("QueueConsumer {_queue.Name} head {_head}")]
public sealed unsafe class QueueConsumer : IDisposable, IMessageSource
{
    /// <summary>
    /// How long the consumer finds the next record claimed and not committed before it looks whether the claim's
    /// producer is alive, and then how often it looks again (1 ms). A claim is a copy away from its commit, so a live
    /// producer is rarely looked at; a dead one's claim is skipped at the first look. A consumer parked behind a dead
    /// claim looks when its wait's 50 ms slice ends, so a dead producer holds the consumer up for at most about 50 ms.
    /// </summary>
    public static readonly TimeSpan AbandonedClaimCheck = ClaimLookout.Delay;

    private readonly SharedQueue _queue;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly long _heldBackLimit;
    private readonly int _maxMessage;
    private readonly byte* _data;
    private long _head;            // ours: the next record to read (released or not yet published)
    private long _published;       // the head as last published
    private long _leaseAt = -1;    // the open lease's record, as a position in the data, or -1
    private long _leaseSize;
    private int _leaseLength;
    private ClaimLookout _lookout = new(); // when to look at a claim not committed that holds the head up
    private long _wrapSkipEnd = -1; // where a skip of an unwritten claim up to the end of the data ended: one from there goes on with it
    private int _disposed;
    private readonly AdaptiveSpin _spin = new();

    internal QueueConsumer(SharedQueue queue)
    {
        _queue = queue;
        _capacity = queue.Capacity;
        _mask = _capacity - 1;
        _heldBackLimit = Math.Min(_capacity / 4, 64 * 1024);
        _maxMessage = queue.MaxMessageSize;
        _data = queue.Data;
        queue.ClaimConsumer();
        // A replaced consumer resumes where its predecessor had released to: a message it had read but not released comes
        // again. If it died between saying so and publishing the head (the room zeroed or not), that is finished first.
        _head = Volatile.Read(ref queue.Field64(L.HeadOffset));
        _published = _head;
        long released = Volatile.Read(ref queue.Field64(L.ReleasedOffset));
        long tail = Volatile.Read(ref queue.Field64(L.TailOffset));
        if (_head < 0 || (_head & (L.Alignment - 1)) != 0 || released < _head || released > tail || (released & (L.Alignment - 1)) != 0)
        {
            Dispose();
            throw new SegmentCorruptException("Its consumer positions are inconsistent.", queue.Name,
                expected: "0 <= head <= released <= tail, 8-aligned", found: $"head {_head}, released {released}, tail {tail}");
        }
        _head = released;
        PublishHead();
    }

    /// <summary>How long a wait spins before it parks, at least (20 µs by default); zero parks at once.</summary>
    public TimeSpan SpinBeforeParking
    {
        get => _spin.Configured;
        set => _spin.Configured = value;
    }

    /// <summary>Claims this consumer skipped because their producer died before committing them (also the <c>membrane.queue.aborted</c> metric).</summary>
    public long AbortedClaims { get; private set; }

    /// <summary>
    /// Lends the next message in place, without waiting; false when there is none committed yet. Dispose the lease (or
    /// call <see cref="QueueLease.Release(bool)"/>) before the next read.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryRead(out QueueLease lease)
    {
        if (!TryTake())
        {
            lease = default;
            return false;
        }
        lease = new QueueLease(this, new ReadOnlySpan<byte>(_data + _leaseAt + L.RecordHeaderSize, _leaseLength));
        return true;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the next message (spin, then park); false on timeout.</summary>
    public bool TryRead(TimeSpan timeout, CancellationToken cancellation, out QueueLease lease)
    {
        if (TryTake() || TakeWaiting(timeout, cancellation))
        {
            lease = new QueueLease(this, new ReadOnlySpan<byte>(_data + _leaseAt + L.RecordHeaderSize, _leaseLength));
            return true;
        }
        lease = default;
        return false;
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/> and releases it, without waiting. False when there is
    /// none (<paramref name="length"/> 0), and when <paramref name="destination"/> is too small (<paramref name="length"/>
    /// is then the message's length, and it stays next).
    /// </summary>
    public bool TryRead(Span<byte> destination, out int length)
    {
        if (!TryTake())
        {
            length = 0;
            return false;
        }
        return CopyOut(destination, out length);
    }

    /// <summary>As <see cref="TryRead(Span{byte}, out int)"/>, waiting up to <paramref name="timeout"/> for a message.</summary>
    public bool TryRead(Span<byte> destination, TimeSpan timeout, CancellationToken cancellation, out int length)
    {
        if (!TryTake() && !TakeWaiting(timeout, cancellation))
        {
            length = 0;
            return false;
        }
        return CopyOut(destination, out length);
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/> and releases it, waiting without holding a thread
    /// (through the process's futex reactor, as the ring's waits) until one is committed. A claim left by a dead producer
    /// is skipped within a second (an awaited wait looks at its claim once a second).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is smaller than the message (it stays next).</exception>
    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellation = default)
    {
        if (TryRead(destination.Span, out int length))
        {
            return ValueTask.FromResult(length);
        }
        if (length > destination.Length)
        {
            ThrowDestinationTooSmall(length, destination.Length);
        }
        return QueueAsync.ReadAsync(this, destination, cancellation);
    }

    /// <summary>
    /// Waits without holding a thread (through the process's futex reactor) until a message is committed (true); then
    /// read it with <see cref="TryRead(out QueueLease)"/>. A queue has no end (producers come and go), so it never returns
    /// false; a claim left by a dead producer is skipped meanwhile (within a second: an awaited wait looks once a second).
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellation = default)
    {
        if (HasMessage())
        {
            return ValueTask.FromResult(true);
        }
        return SpinThenPark.UntilAsync(this, static c => c.HasMessage(), static _ => { }, _queue.Address(L.ConsumerWaitingOffset), _queue.Address(L.CommitSignalOffset),
            _queue.Users, Parking.Futex, Timeout.InfiniteTimeSpan, _spin, _queue.ConsumerTally, cancellation, beforeParking: static c => c.PublishHead());
    }

    /// <summary>
    /// This consumer as a <see cref="System.Threading.Channels.ChannelReader{T}"/>: one message per item, each exactly
    /// <c>sizeof(T)</c> bytes (a message of another size throws <see cref="PeerViolationException"/> and is skipped),
    /// from every producer, each producer's in its order. A queue has no end, so <c>Completion</c> never completes by
    /// itself. Read through one or the other, not both.
    /// </summary>
    public System.Threading.Channels.ChannelReader<T> AsChannelReader<T>()
        where T : unmanaged
    {
        ThrowIfDisposed();
        return new MessageChannelReader<T>(this);
    }

    /// <summary>
    /// This consumer as a <see cref="System.IO.Pipelines.PipeReader"/>: the messages of every producer, concatenated, as
    /// one byte stream. Messages of different producers interleave, so the stream makes sense when each message holds
    /// whole frames (each flush of a <see cref="QueueProducer.AsPipeWriter"/> is one message). A read's buffer is the
    /// queue's memory, one message from where the last <c>AdvanceTo</c> left it, unless the caller examined all of it and
    /// wants more: then the rest and the next message are copied together. <c>Complete</c> disposes this consumer.
    /// </summary>
    public System.IO.Pipelines.PipeReader AsPipeReader()
    {
        ThrowIfDisposed();
        return new MessagePipeReader(this);
    }

    string IMessageSource.Description => $"Queue '{_queue.Name}'";

    string IMessageSource.SegmentName => _queue.Name;

    bool IMessageSource.TryLend(out ReadOnlySpan<byte> message)
    {
        bool lent = TryRead(out QueueLease lease);
        message = lease.Message;
        return lent;
    }

    void IMessageSource.Release(bool publish) => Release(publish);

    /// <summary>
    /// Publishes the room released with <c>publish: false</c> (see <see cref="QueueLease.Release(bool)"/>), waking
    /// producers waiting for it.
    /// </summary>
    public void Publish()
    {
        ThrowIfDisposed();
        PublishHead();
    }

    /// <summary>Publishes what is released and gives the consumer role up. Idempotent, never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _leaseAt = -1;
        PublishHead();
        _queue.ReleaseConsumer();
    }

    /// <summary>Releases the open lease: zeroes its room (so that it is free space again), then returns it.</summary>
    internal void Release(bool publish)
    {
        if (_leaseAt < 0)
        {
            ThrowIfDisposed();
            throw new InvalidOperationException($"Queue '{_queue.Name}': no message is leased (it was released already).");
        }
        ReleaseLease(publish);
    }

    internal void ReleaseIfLeased()
    {
        if (_leaseAt >= 0)
        {
            ReleaseLease(publish: true);
        }
    }

    /// <summary>Waits without a thread until a message is taken as the open lease (see <see cref="ReadAsync"/>).</summary>
    internal ValueTask<bool> TakeAsync(CancellationToken cancellation) =>
        SpinThenPark.UntilAsync(this, static c => c.TryTake(), static _ => { }, _queue.Address(L.ConsumerWaitingOffset), _queue.Address(L.CommitSignalOffset),
            _queue.Users, Parking.Futex, Timeout.InfiniteTimeSpan, _spin, _queue.ConsumerTally, cancellation, beforeParking: static c => c.PublishHead());

    /// <summary>Whether a message is committed next (padding and dead claims before it skipped); nothing is taken.</summary>
    private bool HasMessage()
    {
        if (!TryTake())
        {
            return false;
        }
        _leaseAt = -1; // not taken: it stays next
        return true;
    }

    /// <summary>Copies the message taken by <see cref="TakeAsync"/> out and releases it; false if it does not fit (it stays next).</summary>
    internal bool CopyTaken(Span<byte> destination, out int length) => CopyOut(destination, out length);

    internal void ThrowDestinationTooSmall(int length, int room) =>
        throw new ArgumentException($"Queue '{_queue.Name}': the message is {length} bytes, the destination {room} (it stays unread).");

    private bool CopyOut(Span<byte> destination, out int length)
    {
        length = _leaseLength;
        if (length > destination.Length)
        {
            _leaseAt = -1; // not released: it stays next
            return false;
        }
        new ReadOnlySpan<byte>(_data + _leaseAt + L.RecordHeaderSize, length).CopyTo(destination);
        ReleaseLease(publish: true);
        return true;
    }

    /// <summary>Takes the next committed message as the open lease, skipping padding and dead claims; false if none.</summary>
    [MethodImpl(HotPath.Optimised)]
    private bool TryTake()
    {
        ThrowIfDisposed();
        if (_leaseAt >= 0)
        {
            throw new InvalidOperationException($"Queue '{_queue.Name}': a message is leased; release it before the next read.");
        }
        while (true)
        {
            long position = _head & _mask;
            // Acquire: a committed header is read before the message it seals.
            ulong header = Volatile.Read(ref Unsafe.AsRef<ulong>(_data + position));
            int kind = L.Kind(header);
            if (kind == L.MessageKind)
            {
                int length = L.Length(header);
                long size = L.RecordSize(length);
                if ((uint)length > (uint)_maxMessage || size > _capacity - position)
                {
                    throw Corrupt($"a message of {length} bytes at {position}");
                }
                _leaseAt = position;
                _leaseLength = length;
                _leaseSize = size;
                return true;
            }
            if (kind is L.PaddingKind or L.AbortedKind)
            {
                long size = L.RecordSize(L.Length(header));
                if (L.Length(header) < 0 || size > _capacity - position)
                {
                    throw Corrupt($"a record of {L.Length(header)} bytes at {position}");
                }
                Advance(size, publish: false);
                continue;
            }
            if (kind != L.ClaimedKind && header != 0)
            {
                throw Corrupt($"header 0x{header:x16} at {position}");
            }
            if (header == 0 && Volatile.Read(ref _queue.Field64(L.TailOffset)) <= _head)
            {
                return false; // empty
            }
            if (!TrySkipAbandoned(header))
            {
                return false; // claimed, not committed yet
            }
        }
    }

    /// <summary>
    /// The head is claimed and not committed. Once it has been so for <see cref="AbandonedClaimCheck"/> (and then at most
    /// that often), looks whether the claim's producer is alive; skips the claim if it is not. True if it skipped.
    /// </summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool TrySkipAbandoned(ulong header)
    {
        if (!_lookout.LookDue(_head))
        {
            return false;
        }
        long skipped = header == 0 ? DeadUnwrittenClaim() : DeadClaim(header);
        // Read again after the producers were looked at: a header written meanwhile (an unwritten claim's producer was
        // between its CAS and its header), or a claim committed meanwhile by a producer that then gave its slot up (it
        // finished, so it looks dead), is read as it is, never skipped.
        if (skipped == 0 || Volatile.Read(ref Unsafe.AsRef<ulong>(_data + (_head & _mask))) != header)
        {
            return false;
        }
        _lookout.Passed();
        long position = _head & _mask;
        // An unwritten claim at a wrap covers the end of the data and the start: it is skipped in two steps, counted once.
        if (!(header == 0 && _head == _wrapSkipEnd))
        {
            AbortedClaims++;
            Interlocked.Increment(ref _queue.Field64(L.AbortedClaimsOffset));
            MembraneMetrics.QueueAborted.Add(1, _queue.MetricTag);
        }
        _wrapSkipEnd = header == 0 && position + skipped == _capacity ? _head + skipped : -1;
        Advance(skipped, publish: true);
        return true;
    }

    /// <summary>
    /// A claimed record whose header names its producer: its size if that producer is dead (or its slot was taken
    /// since by another producer, which only happens once the holder is dead or gone), else 0.
    /// </summary>
    private long DeadClaim(ulong header)
    {
        int slot = L.Slot(header);
        long position = _head & _mask;
        long size = L.RecordSize(L.Length(header));
        if (slot >= _queue.ProducerSlots || L.Length(header) < 0 || size > _capacity - position)
        {
            throw Corrupt($"claimed header 0x{header:x16} at {position}");
        }
        if (L.SameGeneration(header, Volatile.Read(ref _queue.Generation(slot))))
        {
            ulong holder = Volatile.Read(ref _queue.Identity(slot));
            if (holder != 0 && _queue.IsAlive(holder))
            {
                return 0;
            }
        }
        return size;
    }

    /// <summary>
    /// The head is claimed (the tail is past it) and its header still zero: its producer was between its CAS and its
    /// header. If no live producer's slot holds a range around the head, that producer is dead and wrote nothing: the
    /// claim's room is all zero up to the next record. Returns how much to skip (to the next written header, the next
    /// start of a claim, the tail or the end of the data), or 0.
    /// </summary>
    private long DeadUnwrittenClaim()
    {
        long tail = Volatile.Read(ref _queue.Field64(L.TailOffset));
        if (tail <= _head)
        {
            return 0;
        }
        // Every claim below the tail set its range before its CAS, and clears it only after writing its headers.
        Span<long> starts = stackalloc long[_queue.ProducerSlots];
        int count = 0;
        for (int slot = 0; slot < _queue.ProducerSlots; slot++)
        {
            long start = Volatile.Read(ref _queue.ClaimStart(slot));
            if (start < 0)
            {
                continue;
            }
            long end = Volatile.Read(ref _queue.ClaimEnd(slot));
            ulong holder = Volatile.Read(ref _queue.Identity(slot));
            if (start <= _head && _head < end && holder != 0 && _queue.IsAlive(holder))
            {
                return 0; // a live producer is claiming here: its header comes next
            }
            starts[count++] = start;
        }
        starts = starts[..count];
        long limit = Math.Min(tail, _head + (_capacity - (_head & _mask)));
        long at = _head + L.RecordHeaderSize;
        while (at < limit && !starts.Contains(at) && Volatile.Read(ref Unsafe.AsRef<ulong>(_data + (at & _mask))) == 0)
        {
            at += L.Alignment;
        }
        return at - _head;
    }

    /// <summary>Releases the open lease: its room goes back with the next publication.</summary>
    private void ReleaseLease(bool publish)
    {
        _leaseAt = -1;
        Advance(_leaseSize, publish);
    }

    /// <summary>Moves the head past <paramref name="size"/> bytes of records, publishing now or later.</summary>
    private void Advance(long size, bool publish)
    {
        _head += size;
        if (publish || _head - _published >= _heldBackLimit)
        {
            PublishHead();
        }
    }

    /// <summary>
    /// Returns the room released since the last publication to the producers: says it is released (so that a successor
    /// of ours neither reads it again nor takes it for claims: see the constructor), zeroes it (all room ahead of the tail
    /// is zero), then publishes the head (a release store, after the zeroes).
    /// </summary>
    private void PublishHead()
    {
        if (_head == _published)
        {
            return;
        }
        Volatile.Write(ref _queue.Field64(L.ReleasedOffset), _head);
        for (long at = _published; at < _head;)
        {
            long position = at & _mask;
            long length = Math.Min(_head - at, _capacity - position);
            new Span<byte>(_data + position, checked((int)length)).Clear();
            at += length;
        }
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.QueueReleaseBeforePublish);
        }
        SpinThenPark.Publish(ref _queue.Field64(L.HeadOffset), _head, ref _queue.Field32(L.ProducersWaitingOffset), Parking.Futex, _queue.ConsumerTally);
        _published = _head;
    }

    /// <summary>
    /// Waits (spin, then park on the commit signal) for the next message and takes it; false on timeout. Parks in slices,
    /// so that a claim left by a dead producer is looked at (by the attempt) within a slice.
    /// </summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool TakeWaiting(TimeSpan timeout, CancellationToken cancellation)
    {
        QueueConsumer consumer = this;
        return SpinThenPark.Until(ref consumer, static (ref QueueConsumer c) => c.TryTake(), static (ref QueueConsumer _) => { },
            ref _queue.Field32(L.ConsumerWaitingOffset), ref _queue.Field64(L.CommitSignalOffset), Parking.Futex, timeout, _spin, _queue.ConsumerTally, cancellation,
            beforeParking: static (ref QueueConsumer c) => c.PublishHead());
    }

    private SegmentCorruptException Corrupt(string found) =>
        new("A queue record is not one the protocol writes.", _queue.Name, expected: "a record header of the queue's protocol", found: found);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
