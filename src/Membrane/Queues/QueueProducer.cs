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
/// One of a queue's producers: a producer slot of its own, used by one thread at a time (create one per thread).
/// Zero-copy: <see cref="TryReserve(int, out Span{byte})"/> claims room in the queue and hands out its span,
/// <see cref="Commit(int)"/> seals it as a message. A claim is one CAS on the shared tail; nothing else is shared with the
/// other producers, and no system call is made unless the consumer is parked.
/// </summary>
[DebuggerDisplay("QueueProducer {_queue.Name} slot {_slot}")]
public sealed unsafe class QueueProducer : IDisposable, IMessageSink
{
    private readonly SharedQueue _queue;
    private readonly int _slot;
    private readonly uint _generation;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly byte* _data;
    private readonly int _maxMessage;
    private long _headSeen;             // the consumer's head as last read
    private long _reservedAt = -1;      // the open claim's record, as a position in the data, or -1
    private bool _unpublished;          // a commit made with publish: false has not been signalled to the consumer yet
    private int _reservedLength;
    private int _disposed;
    private readonly AdaptiveSpin _spin = new();

    internal QueueProducer(SharedQueue queue)
    {
        _queue = queue;
        _capacity = queue.Capacity;
        _mask = _capacity - 1;
        _data = queue.Data;
        _maxMessage = queue.MaxMessageSize;
        _slot = queue.ClaimSlot();
        _generation = Volatile.Read(ref queue.Generation(_slot));
        _headSeen = Volatile.Read(ref queue.Field64(L.HeadOffset));
    }

    /// <summary>
    /// How long a wait for room spins before it parks, at least (20 µs by default); adapts as the ring's does
    /// (<see cref="Rings.RingProducer.SpinBeforeParking"/>). Zero parks at once.
    /// </summary>
    public TimeSpan SpinBeforeParking
    {
        get => _spin.Configured;
        set => _spin.Configured = value;
    }

    /// <summary>The largest message, in bytes.</summary>
    public int MaxMessageSize => _maxMessage;

    /// <summary>This producer's slot in the queue (as <see cref="SharedQueue.ReadProducers"/> lists it).</summary>
    public int Slot => _slot;

    /// <summary>
    /// Claims room for a message of up to <paramref name="length"/> bytes and gives the span to fill, without waiting;
    /// false when the queue is too full. One claim at a time; <see cref="Commit(int)"/> it soon: the consumer reads in claim
    /// order, so every message claimed after it (by any producer) waits for it.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryReserve(int length, out Span<byte> buffer)
    {
        ThrowIfDisposed();
        if (_reservedAt >= 0)
        {
            throw new InvalidOperationException($"Queue '{_queue.Name}': a claim is open; commit it before the next.");
        }
        if ((uint)length > (uint)_maxMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Queue '{_queue.Name}': a message is 0 to {_maxMessage} bytes.");
        }
        long size = L.RecordSize(length);
        ref long tail = ref _queue.Field64(L.TailOffset);
        long claimed, position, toEnd;
        while (true)
        {
            claimed = Volatile.Read(ref tail);
            position = claimed & _mask;
            toEnd = _capacity - position;
            long total = size <= toEnd ? size : toEnd + size; // at the wrap: padding to the end, then the record
            if (claimed + total - _headSeen > _capacity)
            {
                _headSeen = Volatile.Read(ref _queue.Field64(L.HeadOffset));
                if (claimed + total - _headSeen > _capacity)
                {
                    buffer = default;
                    return false;
                }
            }
            // The range we claim, in our slot before the CAS (end first, start last): a consumer that finds the head
            // claimed and its header unwritten waits while a live producer's range holds the head (see QueueConsumer).
            Volatile.Write(ref _queue.ClaimEnd(_slot), claimed + total);
            Volatile.Write(ref _queue.ClaimStart(_slot), claimed);
            if (Interlocked.CompareExchange(ref tail, claimed + total, claimed) == claimed)
            {
                break;
            }
        }
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.QueueReserveAfterClaim);
        }
        if (size > toEnd)
        {
            WriteHeader(position, (int)(toEnd - L.RecordHeaderSize), L.PaddingKind);
            position = 0;
        }
        WriteHeader(position, length, L.ClaimedKind);
        // The headers are visible before the range is cleared (a release store): a consumer that no longer sees the
        // range sees the headers.
        Volatile.Write(ref _queue.ClaimStart(_slot), -1);
        _reservedAt = position;
        _reservedLength = length;
        buffer = new Span<byte>(_data + position + L.RecordHeaderSize, length);
        return true;
    }

    /// <summary>
    /// Seals the open claim as a message of <paramref name="length"/> bytes (at most what was claimed; the rest is
    /// padded) and makes it visible to the consumer, waking it if it is parked.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public void Commit(int length) => Commit(length, publish: true);

    /// <summary>
    /// Seals the open claim as a message of <paramref name="length"/> bytes (at most what was claimed; the rest is
    /// padded). It is visible to a consumer that looks at once; with <paramref name="publish"/> false, a consumer that is
    /// parked is woken only by this producer's next publishing commit or <see cref="Publish"/> (a wait for room publishes
    /// first, as does <see cref="Dispose"/>). A burst committed so, then published once, costs one full fence instead of
    /// one a message.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public void Commit(int length, bool publish)
    {
        if (_reservedAt < 0 || (uint)length > (uint)_reservedLength)
        {
            ThrowCannotCommit(length);
        }
        long claimedSize = L.RecordSize(_reservedLength);
        long size = L.RecordSize(length);
        if (size < claimedSize)
        {
            WriteHeader(_reservedAt + size, (int)(claimedSize - size - L.RecordHeaderSize), L.PaddingKind);
        }
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.QueueCommitBeforePublish);
        }
        Seal(length, L.MessageKind, publish);
    }

    /// <summary>Wakes the consumer, if it is parked, for the commits made with <c>publish: false</c>.</summary>
    public void Publish()
    {
        ThrowIfDisposed();
        PublishPending();
    }

    /// <summary>Copies <paramref name="message"/> in and commits it, without waiting; false when the queue is too full.</summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryWrite(ReadOnlySpan<byte> message)
    {
        if (!TryReserve(message.Length, out Span<byte> buffer))
        {
            return false;
        }
        message.CopyTo(buffer);
        Commit(message.Length);
        return true;
    }

    /// <summary>
    /// Copies <paramref name="message"/> in and commits it, waiting up to <paramref name="timeout"/> for room (spin, then
    /// park); false on timeout, and once the consumer closed its end (nothing written would be read).
    /// </summary>
    /// <exception cref="PeerGoneException">The consumer died, so room will never come.</exception>
    public bool TryWrite(ReadOnlySpan<byte> message, TimeSpan timeout, CancellationToken cancellation = default)
    {
        if (TryWrite(message))
        {
            return true;
        }
        var wait = (Producer: this, Length: message.Length);
        try
        {
            if (!SpinThenPark.Until(ref wait, static (ref (QueueProducer Producer, int Length) w) => w.Producer.TryReserve(w.Length, out _),
                static (ref (QueueProducer Producer, int Length) w) => w.Producer._queue.ThrowIfConsumerGone(),
                ref _queue.Field32(L.ProducersWaitingOffset), ref _queue.Field64(L.HeadOffset), Parking.Futex, timeout, _spin, _queue.ProducersTally, cancellation,
                beforeParking: static (ref (QueueProducer Producer, int Length) w) => w.Producer.PublishPending()))
            {
                return false;
            }
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            return false;
        }
        message.CopyTo(new Span<byte>(_data + _reservedAt + L.RecordHeaderSize, message.Length));
        Commit(message.Length);
        return true;
    }

    /// <summary>
    /// Copies <paramref name="message"/> in and commits it, waiting without holding a thread (through the process's futex
    /// reactor) for room.
    /// </summary>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The consumer closed its end: nothing written would be read.</exception>
    /// <exception cref="PeerGoneException">The consumer died.</exception>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellation = default) =>
        TryWrite(message.Span) ? ValueTask.CompletedTask : SinkAsync.WriteAsync(this, message, cancellation);

    /// <summary>
    /// Waits without holding a thread (through the process's futex reactor) until a message of <paramref name="length"/>
    /// bytes fits (true), or the consumer closed its end (false: nothing more will be read, as a completed
    /// <see cref="System.Threading.Channels.ChannelWriter{T}"/>). Another producer may take the room first: then
    /// <see cref="TryWrite(ReadOnlySpan{byte})"/> finds none, and the caller waits again.
    /// </summary>
    /// <exception cref="PeerGoneException">The consumer died.</exception>
    public ValueTask<bool> WaitToWriteAsync(int length, CancellationToken cancellation = default)
    {
        ThrowIfDisposed();
        if ((uint)length > (uint)_maxMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Queue '{_queue.Name}': a message is 0 to {_maxMessage} bytes.");
        }
        if (HasRoom(length))
        {
            return ValueTask.FromResult(true);
        }
        if (ConsumerClosed)
        {
            return ValueTask.FromResult(false);
        }
        ValueTask<bool> waiting = WaitForRoomAsync(length, cancellation);
        return waiting.IsCompletedSuccessfully ? waiting : QueueAsync.FalseOnClose(waiting);
    }

    /// <summary>
    /// This producer as a <see cref="System.Threading.Channels.ChannelWriter{T}"/>: one message per item, each exactly
    /// <c>sizeof(T)</c> bytes. <c>Complete</c> disposes this producer (its slot is freed; the consumer's channel reader
    /// goes on with the other producers: a queue has no end). Write through one or the other, not both.
    /// </summary>
    public System.Threading.Channels.ChannelWriter<T> AsChannelWriter<T>()
        where T : unmanaged
    {
        ThrowIfDisposed();
        return new MessageChannelWriter<T>(this);
    }

    /// <summary>
    /// This producer as a <see cref="System.IO.Pipelines.PipeWriter"/>: the bytes written between two flushes go as one
    /// message (at most <see cref="MaxMessageSize"/>; more is refused at <c>Advance</c>), so that a protocol whose frames
    /// each go out in one flush reaches the consumer's <see cref="QueueConsumer.AsPipeReader"/> whole, whatever the
    /// other producers send. The bytes gather in a buffer of the writer's and are copied in at the flush: a claim lent
    /// across the caller's code would hold up every producer's messages behind it. A consumer that closed completes the
    /// flush result; one that died makes it throw <see cref="PeerGoneException"/>. <c>Complete</c> sends what is
    /// written and disposes this producer.
    /// </summary>
    public System.IO.Pipelines.PipeWriter AsPipeWriter()
    {
        ThrowIfDisposed();
        return new QueuePipeWriter(this);
    }

    string IMessageSink.Description => $"Queue '{_queue.Name}'";

    /// <summary>Whether the consumer closed its end (and no consumer has taken the role since).</summary>
    private bool ConsumerClosed => Volatile.Read(ref _queue.Field32(L.ConsumerClosedOffset)) != 0;

    /// <summary>The queue's name, for the asynchronous loops' messages.</summary>
    internal string QueueName => _queue.Name;

    /// <summary>Waits without a thread until a message of <paramref name="length"/> bytes fits, claiming nothing.</summary>
    private ValueTask<bool> WaitForRoomAsync(int length, CancellationToken cancellation) =>
        SpinThenPark.UntilAsync((Producer: this, Length: length), static w => w.Producer.HasRoom(w.Length), static w => w.Producer._queue.ThrowIfConsumerGone(),
            _queue.Address(L.ProducersWaitingOffset), _queue.Address(L.HeadOffset), _queue.Users, Parking.Futex, Timeout.InfiniteTimeSpan, _spin, _queue.ProducersTally, cancellation,
            beforeParking: static w => w.Producer.PublishPending());

    /// <summary>Whether a claim of <paramref name="length"/> bytes would fit now (the same test as <see cref="TryReserve"/>'s).</summary>
    private bool HasRoom(int length)
    {
        long size = L.RecordSize(length);
        long tail = Volatile.Read(ref _queue.Field64(L.TailOffset));
        long toEnd = _capacity - (tail & _mask);
        _headSeen = Volatile.Read(ref _queue.Field64(L.HeadOffset));
        return tail + (size <= toEnd ? size : toEnd + size) - _headSeen <= _capacity;
    }

    /// <summary>
    /// Gives the producer slot up. An open claim is committed as aborted (the consumer skips it). Idempotent, never throws.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (_reservedAt >= 0)
        {
            Seal(_reservedLength, L.AbortedKind, publish: true);
        }
        PublishPending();
        _queue.ReleaseSlot(_slot);
    }

    [MethodImpl(HotPath.Inline)]
    private void Seal(int length, int kind, bool publish)
    {
        // Release: the message is in place before its header says so (pairs with the consumer's acquire of the header).
        Volatile.Write(ref Unsafe.AsRef<ulong>(_data + _reservedAt), L.Header(length, kind, _slot, _generation));
        _reservedAt = -1;
        if (publish)
        {
            Signal();
        }
        else
        {
            _unpublished = true;
        }
    }

    /// <summary>Before this producer waits, and when it goes: a consumer parked behind unpublished commits would sleep through them.</summary>
    private void PublishPending()
    {
        if (_unpublished)
        {
            Signal();
        }
    }

    /// <summary>The consumer parks on the commit signal, which a commit does not otherwise change (see <see cref="SpinThenPark.Signal"/>).</summary>
    [MethodImpl(HotPath.Inline)]
    private void Signal()
    {
        _unpublished = false;
        SpinThenPark.Signal(ref _queue.Field64(L.CommitSignalOffset), ref _queue.Field32(L.ConsumerWaitingOffset), Parking.Futex, _queue.ProducersTally);
    }

    private void WriteHeader(long position, int length, int kind) =>
        Volatile.Write(ref Unsafe.AsRef<ulong>(_data + position), L.Header(length, kind, _slot, _generation));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    [MethodImpl(HotPath.OutOfLine)]
    private void ThrowCannotCommit(int length)
    {
        ThrowIfDisposed();
        throw _reservedAt < 0
            ? new InvalidOperationException($"Queue '{_queue.Name}': nothing is claimed to commit.")
            : new ArgumentOutOfRangeException(nameof(length), length, $"Queue '{_queue.Name}': {_reservedLength} bytes were claimed.");
    }
}
