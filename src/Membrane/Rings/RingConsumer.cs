using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Membrane.Adapters;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.Rings.RingLayout;

namespace Membrane.Rings;

/// <summary>
/// The ring's one consumer. Zero-copy: <see cref="TryRead(out RingLease)"/> lends the message in place; disposing
/// the lease releases it. Every record header is read once, checked against the tail and the ring's bounds, and only
/// then used: a producer that breaks the protocol gets this consumer a <see cref="PeerViolationException"/> (and
/// every later call the same one — a stream with a lie in it cannot be resumed), never a read outside the ring.
/// </summary>
[DebuggerDisplay("RingConsumer {_ring.Name} head {_head}")]
public sealed unsafe class RingConsumer : IDisposable, ICompletableEnd, IMessageSource
{
    private const long PrefetchLimit = 4096; // as many lines as a core keeps misses in flight, roughly

    private readonly SharedRing _ring;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly long _heldBackLimit;
    private readonly int _maxMessage;
    private readonly byte* _data;
    private long _head;       // ours: the next record to read (released or not yet published)
    private long _published;  // the head as last published
    private long _tailSeen;   // the producer's tail as last read and checked
    private long _leaseSize = -1;
    private long _leaseOffset;
    private int _leaseLength;
    private long _partsTotal = -1; // the open lease is the first part of a message of this many bytes, or -1
    private bool _takingParts;     // set while the one read that takes messages in parts looks for a message
    private readonly AdaptiveSpin _nextPartSpin = new() { Configured = NextPartSpin }; // see NextPartSpin
    private bool _completed;       // the producer closed its end and everything it published was read
    private Exception? _fault; // a lie the producer told (every later read throws it), or this consumer's disposal
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

    /// <summary>
    /// Messages in parts this consumer skipped because their producer died before finishing them (the producer that
    /// replaced it marked them aborted). Also counted in the <c>membrane.ring.aborted</c> metric.
    /// </summary>
    public long AbortedMessages { get; private set; }

    internal RingConsumer(SharedRing ring)
    {
        _ring = ring;
        _capacity = ring.Capacity;
        _heldBackLimit = ring.HeldBackLimit;
        _mask = _capacity - 1;
        _maxMessage = ring.MaxMessageSize;
        _data = ring.Data;
        ring.ClaimRole(L.ConsumerIdentityOffset, L.ConsumerBootTagOffset, L.ConsumerClosedOffset, L.ConsumerWaitingOffset, "consumer");
        // A replaced consumer resumes at the published head: a message the dead one had read but not released comes again.
        _head = Volatile.Read(ref ring.Field64(L.HeadOffset));
        _tailSeen = _head;
        _published = _head;
        if (_head < 0 || (_head & (L.Alignment - 1)) != 0)
        {
            Dispose();
            throw ring.Violation("a non-negative, 8-aligned head", $"head {_head}");
        }
    }

    /// <summary>
    /// Lends the next message in place, without waiting; false when the ring is empty. Dispose the lease (or call
    /// <see cref="RingLease.Release(bool)"/>) before the next read.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    public bool TryRead(out RingLease lease)
    {
        if (!TryTake())
        {
            lease = default;
            return false;
        }
        lease = new RingLease(this, new ReadOnlySpan<byte>(_data + _leaseOffset, _leaseLength));
        return true;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the next message (spin, then park); false on timeout.</summary>
    /// <exception cref="PeerGoneException">The producer closed its end or died and every message it published was read.</exception>
    [MethodImpl(HotPath.Inline)]
    public bool TryRead(TimeSpan timeout, CancellationToken cancellation, out RingLease lease)
    {
        if (TryTake() || TakeWaiting(timeout, cancellation))
        {
            lease = new RingLease(this, new ReadOnlySpan<byte>(_data + _leaseOffset, _leaseLength));
            return true;
        }
        lease = default;
        return false;
    }

    /// <summary>Waits (spin, then park) for the next message and takes it as the open lease; false on timeout and on completion.</summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool TakeWaiting(TimeSpan timeout, CancellationToken cancellation) =>
        WaitUntil(static (ref RingConsumer c) => c.TryTake(), timeout, cancellation);

    /// <summary>Waits (spin, then park) until the producer has published something, taking nothing; false on timeout and on completion.</summary>
    private bool WaitForMessage(TimeSpan timeout, CancellationToken cancellation) =>
        WaitUntil(static (ref RingConsumer c) => c.HasPublished(), timeout, cancellation);

    /// <summary>
    /// The synchronous wait for the producer: until <paramref name="attempt"/> succeeds; false on timeout, and once the
    /// producer closed its end and everything is read (completion, remembered in <see cref="IsCompleted"/>).
    /// </summary>
    private bool WaitUntil(SpinThenPark.Attempt<RingConsumer> attempt, TimeSpan timeout, CancellationToken cancellation)
    {
        if (_completed)
        {
            return false;
        }
        RingConsumer consumer = this;
        try
        {
            // Room released in a batch is published before parking (the producer may be waiting for it), not on every
            // empty look: a consumer that keeps pace finds the ring empty after almost every message, and publishing then
            // would cost a fenced write to a line the producer reads for each of them.
            return SpinThenPark.Until(ref consumer, attempt, static (ref RingConsumer c) => c.ThrowIfProducerGone(),
                ref _ring.Field32(L.ConsumerWaitingOffset), ref _ring.Field64(L.TailOffset), _ring.Parking, timeout, _spin, _ring.ConsumerTally, cancellation,
                beforeParking: static (ref RingConsumer c) => c.PublishHeldBack());
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            _completed = true; // completion, not an error: the caller hears false, and IsCompleted says why
            return false;
        }
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/> and releases it, without waiting. False when there is
    /// none (<paramref name="length"/> 0), and when it is longer than <paramref name="destination"/>: then it stays unread
    /// and <paramref name="length"/> is its length, so that the caller can read it again into a buffer large enough.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    public bool TryRead(Span<byte> destination, out int length)
    {
        if (!TryRead(out RingLease lease))
        {
            length = 0;
            return false;
        }
        return TryCopyOut(lease.Message, destination, out length);
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/>, waiting up to <paramref name="timeout"/>. The one
    /// read that also takes a message written in parts (<see cref="RingProducer.PartSize"/>): it copies each part out as
    /// soon as it is published, and releases the message once it has all of it. A timeout or cancellation before the
    /// last part leaves the whole message unread. False, with <paramref name="length"/> 0, on timeout and once the
    /// producer closed its end and everything is read (<see cref="IsCompleted"/>); false, with <paramref name="length"/>
    /// the message's length, when it is longer than <paramref name="destination"/> (it stays unread).
    /// </summary>
    /// <exception cref="PeerGoneException">The producer died and every message it published was read.</exception>
    [MethodImpl(HotPath.Optimised)]
    public bool TryRead(Span<byte> destination, TimeSpan timeout, CancellationToken cancellation, out int length)
    {
        long waitedFrom = 0; // the clock is read only if this call has to wait: most find their message at once
        var progress = default(PartsProgress);
        while (!TryReadStep(destination, ref progress, out length, out long waitPast))
        {
            if (length > destination.Length)
            {
                return false; // too long: it stays unread, and length says how long it is
            }
            waitedFrom = waitedFrom == 0 ? Stopwatch.GetTimestamp() : waitedFrom;
            TimeSpan left = TimeLeft(timeout, waitedFrom);
            if (!(waitPast >= 0 ? WaitForTailPast(waitPast, left, cancellation) : WaitForMessage(left, cancellation)))
            {
                length = 0; // a message in parts left half-read stays unread: its head has not moved
                return false;
            }
        }
        return true;
    }

    /// <summary>What remains of <paramref name="timeout"/> since <paramref name="waitedFrom"/> (0: the wait has not begun).</summary>
    private static TimeSpan TimeLeft(TimeSpan timeout, long waitedFrom) =>
        waitedFrom == 0 || timeout == Timeout.InfiniteTimeSpan
            ? timeout
            : TimeSpan.FromTicks(Math.Max(0, (timeout - Stopwatch.GetElapsedTime(waitedFrom)).Ticks));

    /// <summary>How a read of a message in parts ended.</summary>
    private enum PartsOutcome
    {
        Whole,
        Aborted,
        NeedMore,
    }

    /// <summary>
    /// Waits without holding a thread until the producer has published something (true), or has closed its end and every
    /// message it published was read (false: completion, as in <see cref="System.Threading.Channels.ChannelReader{T}"/>).
    /// Then read with <see cref="TryRead(out RingLease)"/> (which can still find nothing if all that came was the padding
    /// of a wrap). For a time limit, pass a token that a <see cref="CancellationTokenSource"/> cancels after it.
    /// </summary>
    /// <exception cref="PeerGoneException">The producer died and every message it published was read.</exception>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellation = default)
    {
        if (HasPublished())
        {
            return ValueTask.FromResult(true);
        }
        if (_completed)
        {
            return ValueTask.FromResult(false);
        }
        ValueTask<bool> waiting = SpinThenPark.UntilAsync(this, static c => c.HasPublished(), static c => c.ThrowIfProducerGone(), _ring.Address(L.ConsumerWaitingOffset),
            _ring.Address(L.TailOffset), _ring.Users, _ring.Parking, Timeout.InfiniteTimeSpan, _spin, _ring.ConsumerTally, cancellation, static c => c.PublishHeldBack());
        return waiting.IsCompletedSuccessfully ? waiting : RingAsync.FalseOnCompletion(this, waiting);
    }

    /// <summary>
    /// True once the producer closed its end (its <c>Dispose</c>, or a channel or pipe writer's <c>Complete</c>) and this
    /// consumer has read everything it published: nothing more will come. A producer that died is not a completion:
    /// the waits throw <see cref="PeerGoneException"/> instead.
    /// </summary>
    public bool IsCompleted => _completed;

    /// <summary>Called by a wait that heard the producer's normal close (see <see cref="IsCompleted"/>).</summary>
    void ICompletableEnd.MarkCompleted() => _completed = true;

    /// <summary>
    /// Copies the next message into <paramref name="destination"/> and releases it, waiting without holding a thread. A
    /// message written in parts (<see cref="RingProducer.PartSize"/>) is copied part by part as it is published; a
    /// cancellation before its last part leaves it unread.
    /// </summary>
    /// <returns>The message's length.</returns>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The producer closed its end and everything was read.</exception>
    /// <exception cref="ArgumentException">The message is longer than <paramref name="destination"/> (it stays unread).</exception>
    /// <exception cref="PeerGoneException">The producer died and everything it published was read.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellation = default) =>
        RingAsync.ReadAsync(this, destination, cancellation);

    /// <summary>
    /// This consumer as a <see cref="System.Threading.Channels.ChannelReader{T}"/>: one message per item, each exactly
    /// <c>sizeof(T)</c> bytes (a message of another size throws <see cref="PeerViolationException"/> and is skipped).
    /// The producer's <c>Complete</c> or <c>Dispose</c> completes the reader's <c>Completion</c> once all it wrote is
    /// read; a producer that died faults it with <see cref="PeerGoneException"/>. Read through one or the other, not both.
    /// </summary>
    public System.Threading.Channels.ChannelReader<T> AsChannelReader<T>()
        where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new MessageChannelReader<T>(this);
    }

    /// <summary>
    /// This consumer as a <see cref="System.IO.Pipelines.PipeReader"/>: the messages, concatenated, as one byte stream
    /// (<c>AsStream()</c> gives a <see cref="Stream"/>). A read's buffer is the ring's memory, one message from where the
    /// last <c>AdvanceTo</c> left it, unless the caller examined all of it and wants more: then the rest and the next
    /// message are copied together. The buffer is valid until the next <c>AdvanceTo</c>. The producer closing its end
    /// ends the stream; a producer that died makes the read throw <see cref="PeerGoneException"/>. <c>Complete</c>
    /// disposes this consumer. Read through one or the other, not both.
    /// </summary>
    public System.IO.Pipelines.PipeReader AsPipeReader()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new MessagePipeReader(this);
    }

    /// <summary>The ring's name, for the adapters' messages.</summary>
    internal string RingName => _ring.Name;

    string IMessageSource.Description => $"Ring '{_ring.Name}'";

    string IMessageSource.SegmentName => _ring.Name;

    bool IMessageSource.TryLend(out ReadOnlySpan<byte> message)
    {
        bool lent = TryRead(out RingLease lease);
        message = lease.Message;
        return lent;
    }

    void IMessageSource.Release(bool publish) => Release(publish);

    /// <summary>Makes every released message's room available to the producer, waking it if it is parked.</summary>
    public void Publish()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        PublishHead();
    }

    [MethodImpl(HotPath.Optimised)]
    private void PublishHead()
    {
        SpinThenPark.Publish(ref _ring.Field64(L.HeadOffset), _head, ref _ring.Field32(L.ProducerWaitingOffset), _ring.Parking, _ring.ConsumerTally);
        _published = _head;
    }

    /// <summary>
    /// Closes the consumer's end: a producer waiting for room hears that none will come. Idempotent; every later call on
    /// this consumer (and on a lease it lent) throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _fault = new ObjectDisposedException(nameof(RingConsumer), $"Ring '{_ring.Name}': this consumer was disposed.");
        _leaseSize = -1;
        _ring.ReleaseRole(L.ConsumerIdentityOffset, L.ConsumerClosedOffset, L.ProducerWaitingOffset, L.HeadOffset, _ring.ConsumerTally);
    }

    /// <summary>Called by the lease: the message's room goes back to the producer.</summary>
    [MethodImpl(HotPath.Inline)]
    internal void Release(bool publish)
    {
        if (_leaseSize < 0)
        {
            ThrowReleasedAlready();
        }
        _head += _leaseSize;
        _leaseSize = -1;
        if (publish || _head - _published >= _heldBackLimit)
        {
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.RingReleaseBeforePublish);
            }
            PublishHead(); // see SharedRing.HeldBackLimit
        }
    }

    /// <summary>
    /// Called by a lease's Dispose: releases the open lease, if there is one (a lease released already, or one of a
    /// disposed consumer, is left alone). A lease disposed after its consumer lent the next one would release that one:
    /// the lease does not carry which message it was, as telling them apart cost every read 5–8 ns (<c>RingBenchmarks</c>).
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    internal void ReleaseIfLeased()
    {
        if (_leaseSize >= 0)
        {
            Release(publish: true);
        }
    }

    /// <summary>Finds the next message and records it as the open lease; false when there is none yet.</summary>
    [MethodImpl(HotPath.Inline)]
    private bool TryTake()
    {
        // The common case, inline: a message record already known to be published, with nothing wrong. Its header is
        // read once, as one word, and checked; anything else (a fault, an open lease, padding, a stale tail, a record
        // that fails a check) goes the long way, which reads the header afresh and checks that copy on its own.
        if (_fault is null && _leaseSize < 0 && _head != _tailSeen)
        {
            long position = _head & _mask;
            ulong header = Unsafe.ReadUnaligned<ulong>(_data + position);
            if (IsWholeMessage(header, position, _tailSeen - _head))
            {
                return Lend(position, L.RecordLength(header));
            }
        }
        return TryTakeSlowly();
    }

    /// <summary>
    /// Whether <paramref name="header"/> (read once, at <paramref name="position"/>) is a message record of an allowed
    /// length that lies wholly within the <paramref name="published"/> bytes and before the ring's end.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    private bool IsWholeMessage(ulong header, long position, long published)
    {
        int length = L.RecordLength(header);
        return L.RecordKind(header) == L.MessageKind && (uint)length <= (uint)_maxMessage
            && L.RecordSize(length) <= Math.Min(published, _capacity - position);
    }

    /// <summary>
    /// Whether a padding record of <paramref name="length"/> bytes, <paramref name="toEnd"/> bytes before the ring's end,
    /// is what the producer writes at a wrap: it fills the rest of the ring, and all of it is published.
    /// </summary>
    private static bool IsPaddingToEnd(int length, long toEnd, long available) => length == toEnd - L.RecordHeaderSize && available >= toEnd;

    /// <summary>
    /// Checks the first part of a message in parts (length <paramref name="length"/> at <paramref name="position"/>) and
    /// its whole length, then lends it: only to the read that takes parts, a violation for every other.
    /// </summary>
    private bool LendFirstPart(long position, int length, long available)
    {
        if (!_takingParts)
        {
            throw Fault("a message record (kind 1): a message written in parts is read with TryRead(Span<byte>, TimeSpan, CancellationToken, out int)",
                $"the first part of a message in parts at {position}");
        }
        long size = L.RecordSize(length);
        if (length < L.PartTotalSize || length > _maxMessage || size > Math.Min(available, _capacity - position))
        {
            throw Fault($"a first part of {L.PartTotalSize} to {_maxMessage} bytes within the {available} published bytes and the ring's end", $"a {length}-byte first part at {position}");
        }
        long total = Unsafe.ReadUnaligned<long>(_data + position + L.RecordHeaderSize); // read once, checked, then only the copy is used
        if (total < length - L.PartTotalSize || total > _maxMessage)
        {
            throw Fault($"a message in parts of {length - L.PartTotalSize} to {_maxMessage} bytes", $"{total} bytes at {position}");
        }
        _partsTotal = total;
        return Lend(position, length);
    }

    /// <summary>
    /// Starts reading the message in parts whose first part is the open lease: gives the lease back unreleased (the head
    /// moves only once the message is whole) and copies the first part. False, with <paramref name="length"/> the
    /// message's length, if it does not fit <paramref name="destination"/> (then nothing is taken).
    /// </summary>
    private bool BeginParts(ReadOnlySpan<byte> first, Span<byte> destination, out PartsProgress progress, out int length)
    {
        int total = (int)_partsTotal;
        progress = new PartsProgress { Cursor = _head + _leaseSize, Total = total };
        _partsTotal = -1;
        _leaseSize = -1;
        if (total > destination.Length)
        {
            length = total;
            return false;
        }
        first[L.PartTotalSize..].CopyTo(destination);
        progress.Copied = first.Length - L.PartTotalSize;
        length = 0;
        return true;
    }

    /// <summary>
    /// Copies every part published so far after <paramref name="progress"/>; Whole (the message is read and released),
    /// Aborted (its producer died in its middle: skipped), or NeedMore (wait for the tail to pass the progress's cursor).
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    private PartsOutcome ContinueParts(ref PartsProgress progress, Span<byte> destination, out int length)
    {
        length = 0;
        int total = progress.Total;
        long cursor = progress.Cursor;
        int copied = progress.Copied;
        while (copied < total)
        {
            if (cursor == _tailSeen && cursor == RefreshTail())
            {
                progress.Cursor = cursor;
                progress.Copied = copied;
                return PartsOutcome.NeedMore;
            }
            // Read once into locals, as in TryTakeSlowly; a part must bring 1 byte or more, so a hostile stream of parts ends.
            long position = cursor & _mask;
            long available = _tailSeen - cursor;
            long toEnd = _capacity - position;
            ulong header = Unsafe.ReadUnaligned<ulong>(_data + position);
            int partLength = L.RecordLength(header);
            int kind = L.RecordKind(header);
            if (kind == L.PaddingKind && IsPaddingToEnd(partLength, toEnd, available))
            {
                cursor += toEnd;
                continue;
            }
            if (kind == L.AbortedKind && partLength == 0)
            {
                _head = cursor + L.RecordSize(0);
                PublishHead();
                CountAborted();
                return PartsOutcome.Aborted;
            }
            long size = L.RecordSize(partLength);
            if (kind != L.PartKind || partLength <= 0 || partLength > total - copied || size > Math.Min(available, toEnd))
            {
                throw Fault($"the next part of a {total}-byte message (kind 4, 1 to {total - copied} bytes) within the {available} published bytes and the ring's end",
                    $"kind {kind}, length {partLength} at {position}");
            }
            new ReadOnlySpan<byte>(_data + position + L.RecordHeaderSize, partLength).CopyTo(destination[copied..]);
            copied += partLength;
            cursor += size;
        }
        _head = cursor;
        PublishHead();
        length = total;
        return PartsOutcome.Whole;
    }

    /// <summary>
    /// One step of <see cref="ReadAsync"/>, which awaits between steps: true, with the message's length, once a whole
    /// message is copied (a message in parts included). False when it must wait: for any message
    /// (<paramref name="waitPast"/> -1), or for the tail to pass <paramref name="waitPast"/> (the next part of the message
    /// in parts whose reading <paramref name="progress"/> keeps); false with <paramref name="length"/> longer than
    /// <paramref name="destination"/> when it does not fit (nothing taken).
    /// </summary>
    internal bool TryReadStep(Span<byte> destination, ref PartsProgress progress, out int length, out long waitPast)
    {
        waitPast = -1;
        if (!progress.Started)
        {
            bool took;
            _takingParts = true;
            try
            {
                took = TryTake();
            }
            finally
            {
                _takingParts = false;
            }
            if (!took)
            {
                length = 0;
                return false;
            }
            var message = new ReadOnlySpan<byte>(_data + _leaseOffset, _leaseLength);
            if (_partsTotal < 0)
            {
                return TryCopyOut(message, destination, out length);
            }
            if (!BeginParts(message, destination, out progress, out length))
            {
                return false;
            }
        }
        switch (ContinueParts(ref progress, destination, out length))
        {
            case PartsOutcome.Whole:
                progress = default;
                return true;
            case PartsOutcome.NeedMore:
                waitPast = progress.Cursor;
                return false;
            default: // aborted: skipped; the next message is looked for
                progress = default;
                return false;
        }
    }

    /// <summary>Waits without holding a thread until the producer publishes past <paramref name="position"/> (the next part of a message).</summary>
    internal ValueTask<bool> WaitForTailPastAsync(long position, CancellationToken cancellation) =>
        SpinThenPark.UntilAsync((Consumer: this, Position: position), static w => w.Consumer.RefreshTail() != w.Position,
            static w => w.Consumer.ThrowIfProducerGoneAt(w.Position), _ring.Address(L.ConsumerWaitingOffset), _ring.Address(L.TailOffset),
            _ring.Users, _ring.Parking, Timeout.InfiniteTimeSpan, _nextPartSpin, _ring.ConsumerTally, cancellation, static w => w.Consumer.PublishHeldBack());

    /// <summary>Where a read of a message in parts stands: the next part's position, the bytes copied, the message's length.</summary>
    internal struct PartsProgress
    {
        internal long Cursor;
        internal int Copied;
        internal int Total;

        /// <summary>Whether a message in parts is being read (else the next read starts at a new message).</summary>
        internal readonly bool Started => Total > 0;
    }

    private void CountAborted()
    {
        AbortedMessages++;
        MembraneMetrics.RingAborted.Add(1, _ring.MetricTag);
    }

    /// <summary>
    /// How long a read spins for the next part of a message in parts before it parks, whatever
    /// <see cref="SpinBeforeParking"/> says: the producer is in the middle of that message, and its next part is one copy
    /// of at most a part away (64 KiB takes about 5 µs to copy here). Parking for it instead cost a kernel wake a part
    /// (measured: a 1 MiB round trip in 64 KiB parts, 282 µs parked with no spin; asynchronously, a trip through the
    /// reactor and the thread pool a part, 389 µs).
    /// </summary>
    internal static readonly TimeSpan NextPartSpin = TimeSpan.FromMicroseconds(100);

    /// <summary>Waits (spin, then park) until the producer publishes past <paramref name="position"/>; false on timeout.</summary>
    private bool WaitForTailPast(long position, TimeSpan timeout, CancellationToken cancellation)
    {
        var wait = (Consumer: this, Position: position);
        return SpinThenPark.Until(ref wait, static (ref (RingConsumer Consumer, long Position) w) => w.Consumer.RefreshTail() != w.Position,
            static (ref (RingConsumer Consumer, long Position) w) => w.Consumer.ThrowIfProducerGoneAt(w.Position),
            ref _ring.Field32(L.ConsumerWaitingOffset), ref _ring.Field64(L.TailOffset), _ring.Parking, timeout, _nextPartSpin, _ring.ConsumerTally, cancellation,
            beforeParking: static (ref (RingConsumer Consumer, long Position) w) => w.Consumer.PublishHeldBack());
    }

    /// <summary>Records the message of <paramref name="length"/> bytes at <paramref name="position"/> as the open lease.</summary>
    [MethodImpl(HotPath.Inline)]
    private bool Lend(long position, int length)
    {
        _leaseOffset = position + L.RecordHeaderSize;
        _leaseLength = length;
        _leaseSize = L.RecordSize(length);
        return true;
    }

    [MethodImpl(HotPath.OutOfLine)]
    private bool TryTakeSlowly()
    {
        if (_fault is not null)
        {
            throw _fault;
        }
        if (_leaseSize >= 0)
        {
            throw new InvalidOperationException($"Ring '{_ring.Name}': the previous message is still leased; dispose its lease first.");
        }
        while (true)
        {
            if (_head == _tailSeen && _head == RefreshTail())
            {
                return false;
            }
            long position = _head & _mask;
            long available = _tailSeen - _head;
            // Read once into locals; everything below checks these copies, never the shared bytes again.
            ulong header = Unsafe.ReadUnaligned<ulong>(_data + position);
            int length = L.RecordLength(header);
            int kind = L.RecordKind(header);
            long toEnd = _capacity - position;
            if (kind == L.PaddingKind)
            {
                if (!IsPaddingToEnd(length, toEnd, available))
                {
                    throw Fault($"padding of {toEnd - L.RecordHeaderSize} bytes to the end, within {available} published", $"padding of {length} bytes at {position}");
                }
                _head += toEnd;
                continue;
            }
            if (IsWholeMessage(header, position, available))
            {
                return Lend(position, length);
            }
            if (kind == L.AbortedKind && length == 0 && available >= L.RecordSize(0))
            {
                // Only a consumer that did not take parts meets one here (it faulted on the first part, or a fresh
                // consumer started after it): nothing to skip but the record itself.
                _head += L.RecordSize(0);
                continue;
            }
            if (kind == L.FirstPartKind)
            {
                return LendFirstPart(position, length, available);
            }
            throw kind != L.MessageKind || (uint)length > (uint)_maxMessage
                ? Fault($"a message record of 0 to {_maxMessage} bytes at {position}", $"kind {kind}, length {length}")
                : Fault($"a record within the {available} published bytes and the ring's end ({toEnd} bytes away)", $"a {L.RecordSize(length)}-byte record at {position}");
        }
    }

    /// <summary>Publishes room released in a batch, if any; called as the consumer is about to park.</summary>
    [MethodImpl(HotPath.Optimised)]
    private void PublishHeldBack()
    {
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.RingReadParked);
        }
        if (_head != _published)
        {
            PublishHead();
        }
    }

    [MethodImpl(HotPath.Optimised)]
    private bool HasPublished()
    {
        if (_fault is not null)
        {
            throw _fault;
        }
        return _head != _tailSeen || _head != RefreshTail();
    }

    /// <summary>Reads the producer's tail once and checks it: it only moves forward, at most a ring ahead of our head.</summary>
    [MethodImpl(HotPath.Optimised)]
    private long RefreshTail()
    {
        long tail = Volatile.Read(ref _ring.Field64(L.TailOffset)); // acquire; pairs with the producer's publication
        if (tail < _tailSeen || tail - _head > _capacity || (tail & (L.Alignment - 1)) != 0)
        {
            throw Fault($"a tail from {_tailSeen} to {_head + _capacity}, 8-aligned", $"tail {tail}");
        }
        Prefetch(_tailSeen, tail);
        _tailSeen = tail;
        return tail;
    }

    /// <summary>
    /// Starts fetching the cache lines of bytes just published, all at once. Reading records one by one would fetch
    /// them one by one, each a miss on a line the producer's core holds: each record's place depends on the length
    /// read from the one before it. Published bytes stay put until released, so fetching them early is never wasted.
    /// </summary>
    [MethodImpl(HotPath.Optimised)]
    private void Prefetch(long from, long to)
    {
        // Nothing new, nothing fetched: the line holding the tail is the one the producer writes next, and touching it on
        // every look of a waiting consumer pulls it away from the producer's core each time. (In ten interleaved pairs of
        // bench runs, 1 KiB round trips had a p50 of 1.7-1.9 us in 4 runs that way and in 1 without, 0.54-0.82 us else.)
        if (!Sse.IsSupported || to <= from)
        {
            return;
        }
        long end = Math.Min(to, from + PrefetchLimit);
        for (long line = from & ~(long)(SegmentHeaderLayout.CacheLine - 1); line < end; line += SegmentHeaderLayout.CacheLine)
        {
            Sse.Prefetch0(_data + (line & _mask));
        }
    }

    private void ThrowReleasedAlready()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        throw new InvalidOperationException($"Ring '{_ring.Name}': this lease was released already.");
    }

    private PeerViolationException Fault(string expected, string found)
    {
        PeerViolationException violation = _ring.Violation(expected, found);
        _fault = violation;
        return violation;
    }

    private void ThrowIfProducerGone() => ThrowIfProducerGoneAt(_head);

    /// <summary>Throws if the producer is gone and has published nothing from <paramref name="position"/> on.</summary>
    private void ThrowIfProducerGoneAt(long position)
    {
        if (position == RefreshTail())
        {
            _ring.ThrowIfPeerGone(L.ProducerIdentityOffset, L.ProducerBootTagOffset, L.ProducerClosedOffset, "producer", "another message");
        }
    }

    [MethodImpl(HotPath.Optimised)]
    private bool TryCopyOut(ReadOnlySpan<byte> message, Span<byte> destination, out int length)
    {
        length = message.Length;
        if (message.Length > destination.Length)
        {
            _leaseSize = -1; // given back unreleased: the message stays first in line
            return false;
        }
        message.CopyTo(destination);
        Release(publish: true);
        return true;
    }
}
