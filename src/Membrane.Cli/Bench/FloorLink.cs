using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Cli.Bench;

/// <summary>
/// The floor under every shared-memory transport on this machine, measured in the same run: a bare single-producer
/// single-consumer byte ring each way in a shared segment (a published tail, a published head on its own cache line,
/// then fixed slots of the scenario's message size), copy in, copy out, with no header, no validation and nothing a
/// peer could lie about. What a ring costs above it is the ring's own work; the rest is the hardware's and the kernel's.
/// <list type="bullet">
/// <item>For latency it has one slot (a mailbox): each message is published at once, and taken back at once.</item>
/// <item>For throughput it has as many slots as the rings have room (<see cref="Slots"/>), publishes the tail once a
/// burst and the head once every <see cref="Scenarios.BurstLength"/> messages, and either whenever a quarter of the ring
/// or 64 KiB is held back, as the rings do.</item>
/// <item>A message over <see cref="RingBenchLink.PartSize"/> is copied in and out in chunks of that size, each published
/// as soon as it is copied, so that the copies out overlap the copies in, as the rings' messages in parts do.</item>
/// <item><paramref name="parked"/> (latency only): a receiver sleeps on a futex for each message and a sender wakes it
/// after every one, unconditionally (one system call a message each side): the floor under a ring that parks, a kernel
/// wake each way, as for any transport that sleeps in the kernel (the Unix socket too).</item>
/// </list>
/// </summary>
internal sealed unsafe class FloorLink : IBenchLink
{
    private const int HeadOffset = 64;
    private const int DataOffset = 128;
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private static readonly long s_limitTicks = (long)(s_limit.TotalSeconds * Stopwatch.Frequency);
    private readonly SharedSegment _segment;
    private readonly long* _outTail;   // bare pointers into the mapping, which lives as long as _segment: a floor has no checks
    private readonly long* _outHead;
    private readonly byte* _outData;
    private readonly long* _inTail;
    private readonly long* _inHead;
    private readonly byte* _inData;
    private readonly long _mask;
    private readonly long _ringBytes;
    private readonly int _slot;
    private readonly int _chunk;
    private readonly long _releaseEvery;
    private readonly long _heldBackLimit;
    private readonly bool _parked;
    private long _tail;          // ours, outgoing: bytes written
    private long _tailPublished;
    private long _headSeen;      // the peer's head of our outgoing ring, as last read
    private long _head;          // ours, incoming: bytes read
    private long _headPublished;
    private long _tailSeen;      // the peer's tail of our incoming ring, as last read

    /// <param name="segment">Holds both rings: the one at <paramref name="outgoing"/> this side writes, the other it reads.</param>
    /// <param name="outgoing">Where the ring this side writes starts in the payload.</param>
    /// <param name="incoming">Where the ring this side reads starts.</param>
    /// <param name="size">The scenario's message size.</param>
    /// <param name="slots">Messages each ring holds: 1 (a mailbox) for latency, <see cref="Slots"/> for throughput.</param>
    /// <param name="parked">Whether a receiver sleeps on a futex and every publication wakes it.</param>
    internal FloorLink(SharedSegment segment, int outgoing, int incoming, int size, int slots, bool parked)
    {
        _segment = segment;
        byte* payload = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(segment.Payload));
        _outTail = (long*)(payload + outgoing);
        _outHead = (long*)(payload + outgoing + HeadOffset);
        _outData = payload + outgoing + DataOffset;
        _inTail = (long*)(payload + incoming);
        _inHead = (long*)(payload + incoming + HeadOffset);
        _inData = payload + incoming + DataOffset;
        _slot = SlotSize(size);
        _ringBytes = (long)_slot * slots;
        _mask = _ringBytes - 1;
        _chunk = Math.Min(_slot, RingBenchLink.PartSize);
        _heldBackLimit = Math.Clamp(_ringBytes / 4, 1, 64 * 1024); // as the rings hold back (SharedRing.HeldBackLimit)
        _releaseEvery = Math.Min((long)Scenarios.BurstLength * _slot, _heldBackLimit);
        _parked = parked;
    }

    /// <summary>Slots for throughput: the room every shared-memory transport gets (<see cref="BenchTransport.Room"/>), and at least four.</summary>
    internal static int Slots(int size) => (int)Math.Max(4, BenchTransport.Room(size) / SlotSize(size));

    /// <summary>Bytes of payload both rings of <paramref name="slots"/> slots take.</summary>
    internal static long PayloadSize(int size, int slots) => 2L * RingSize(size, slots);

    /// <summary>Where the second ring starts.</summary>
    internal static int RingSize(int size, int slots) => checked(DataOffset + (SlotSize(size) * slots));

    /// <summary>A slot: the message rounded up to a power of two, so that positions wrap with a mask.</summary>
    private static int SlotSize(int size) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(size, 8));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true)
    {
        if (message.Length > _chunk)
        {
            SendInChunks(message);
            return;
        }
        if (_ringBytes - (_tail - _headSeen) < message.Length)
        {
            WaitForRoom(message.Length);
        }
        message.CopyTo(new Span<byte>(_outData + (_tail & _mask), message.Length));
        _tail += _slot;
        if (endOfBurst || _tail - _tailPublished >= _heldBackLimit)
        {
            Publish();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public int Receive(Span<byte> buffer)
    {
        if (buffer.Length > _chunk)
        {
            return ReceiveInChunks(buffer);
        }
        if (_tailSeen - _head < buffer.Length)
        {
            _tailSeen = WaitUntil(_inTail, _head + buffer.Length, park: _parked);
        }
        new ReadOnlySpan<byte>(_inData + (_head & _mask), buffer.Length).CopyTo(buffer);
        _head += _slot;
        if (_head - _headPublished >= _releaseEvery)
        {
            Release();
        }
        return buffer.Length;
    }

    public void Dispose() => _segment.Dispose();

    /// <summary>A message larger than a chunk: each chunk is published as soon as it is copied in.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void SendInChunks(ReadOnlySpan<byte> message)
    {
        long start = _tail;
        for (int copied = 0; copied < message.Length;)
        {
            int chunk = Math.Min(_chunk, message.Length - copied);
            if (_ringBytes - (_tail - _headSeen) < chunk)
            {
                WaitForRoom(chunk);
            }
            message.Slice(copied, chunk).CopyTo(new Span<byte>(_outData + (_tail & _mask), chunk));
            _tail += chunk;
            copied += chunk;
            Publish();
        }
        _tail = start + _slot;
        Publish();
    }

    /// <summary>A message larger than a chunk: each chunk is released as soon as it is copied out.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private int ReceiveInChunks(Span<byte> buffer)
    {
        long start = _head;
        for (int copied = 0; copied < buffer.Length;)
        {
            int chunk = Math.Min(_chunk, buffer.Length - copied);
            if (_tailSeen - _head < chunk)
            {
                _tailSeen = WaitUntil(_inTail, _head + chunk, park: _parked);
            }
            new ReadOnlySpan<byte>(_inData + (_head & _mask), chunk).CopyTo(buffer[copied..]);
            _head += chunk;
            copied += chunk;
            Release();
        }
        _head = start + _slot;
        Release();
        return buffer.Length;
    }

    /// <summary>Publishes what is written (the peer cannot free room out of what it cannot see) and spins until <paramref name="bytes"/> are free.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitForRoom(int bytes)
    {
        Publish();
        _headSeen = WaitUntil(_outHead, _tail + bytes - _ringBytes, park: false);
    }

    private void Publish()
    {
        Volatile.Write(ref *_outTail, _tail);
        _tailPublished = _tail;
        if (_parked)
        {
            Futex.WakeAll((int*)_outTail); // the low half (little-endian), which changes with every message
        }
    }

    private void Release()
    {
        Volatile.Write(ref *_inHead, _head);
        _headPublished = _head;
    }

    /// <summary>Spins (or parks) until <paramref name="counter"/> reaches <paramref name="value"/>; returns what it read.</summary>
    private static long WaitUntil(long* counter, long value, bool park)
    {
        long start = Stopwatch.GetTimestamp();
        for (int spins = 0; ; spins++)
        {
            long seen = Volatile.Read(ref *counter);
            if (seen >= value)
            {
                return seen;
            }
            if (park)
            {
                Futex.Wait((int*)counter, (int)seen, s_limit);
            }
            if ((park || (spins & 0xFFFF) == 0xFFFF) && Stopwatch.GetTimestamp() - start > s_limitTicks)
            {
                throw new TimeoutException("the floor's peer did not answer for 30 s");
            }
        }
    }
}
