using System.Diagnostics;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.CompilerServices;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Native;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.Rings.RingLayout;

namespace Membrane.Rings;

/// <summary>
/// A wait-free single-producer single-consumer ring of variable-size messages in shared memory. Named mode: open it
/// by name in both processes, then take one role in each: <see cref="CreateProducer"/> and
/// <see cref="CreateConsumer"/>. Untrusted mode: a <see cref="RingChannel"/> made by <see cref="RingListener"/> and
/// <see cref="RingChannel.Connect"/> holds two rings in sealed memfds, passed over a Unix socket.
/// <para>
/// Protocol. The producer keeps its own tail; it writes records ahead of the published tail and publishes the new
/// tail with a full fence, then wakes the consumer's futex (the tail's low half) only if the consumer announced it is
/// waiting. The consumer keeps its own head, reads the tail (acquire), reads each record header once, validates it
/// against the tail and the capacity it learnt at open, and publishes its head the same way. Neither side trusts a
/// value the other wrote: every index and length is read once into a local, checked, and only then used, so a peer
/// that breaks the protocol causes a <see cref="PeerViolationException"/>, never an access outside the ring.
/// </para>
/// </summary>
[DebuggerDisplay("SharedRing {Name} ({Capacity} B)")]
public sealed unsafe class SharedRing : IDisposable
{
    private readonly RingPeering _peering;  // what a named and an untrusted ring do differently
    private readonly MappingUsers _users;   // this handle and its ends: the memory stays mapped while any is open
    private int _disposed;

    private SharedRing(string name, byte* payload, long payloadLength, RingPeering peering)
    {
        Name = name;
        Payload = payload;
        _peering = peering;
        _users = new MappingUsers(peering.Dispose);
        long capacity = Unsafe.ReadUnaligned<long>(Payload + L.CapacityOffset);
        int maxMessage = Unsafe.ReadUnaligned<int>(Payload + L.MaxMessageOffset);
        string? problem =
            capacity < L.MinCapacity || capacity > L.MaxCapacity || !BitOperations.IsPow2(capacity) ? $"capacity {capacity}"
            : L.PayloadSize(capacity) > payloadLength ? $"capacity {capacity} in a payload of {payloadLength} bytes"
            : maxMessage != L.MaxMessage(capacity) ? $"max message {maxMessage} for capacity {capacity}"
            : null;
        if (problem is not null)
        {
            Dispose();
            throw peering.InconsistentHeader(name, problem);
        }
        // Learnt once: neither side ever re-reads these from shared memory.
        Capacity = capacity;
        MaxMessageSize = maxMessage;
        Data = Payload + L.DataOffset;
        MetricTag = MembraneMetrics.Tag(name);
        ProducerTally = new WaitTally(MetricTag, Address(L.ProducerParksOffset), Address(L.ProducerWakesOffset));
        ConsumerTally = new WaitTally(MetricTag, Address(L.ConsumerParksOffset), Address(L.ConsumerWakesOffset));
        Parking = peering.Parking;
    }

    /// <summary>The segment's name (for an untrusted ring, a label naming the socket it came over).</summary>
    public string Name { get; }

    /// <summary>True for a ring shared with an untrusted peer (sealed memfd, socket wake-ups, peer liveness from the socket).</summary>
    public bool IsUntrusted => _peering is UntrustedPeering;

    /// <summary>Bytes of record space (a power of two).</summary>
    public long Capacity { get; }

    /// <summary>
    /// The most either end holds back unpublished when it batches (commits or releases with <c>publish: false</c>): a
    /// quarter of the ring, so that the other end never starves, and at most 64 KiB. Batching saves a publication (a full
    /// fence, about 0.4 µs on a slow VM placement) per message; past 64 KiB that is under 5% of the copying, while every
    /// byte held back is one the other end could already be copying (a burst of 64 messages of 64 KiB, published once,
    /// measured 0.8× the throughput of the same burst published message by message).
    /// </summary>
    internal long HeldBackLimit => Math.Min(Capacity / 4, 64 * 1024);

    /// <summary>The largest message, in bytes: half the capacity less a record header, so it always fits after a wrap.</summary>
    public int MaxMessageSize { get; }

    /// <summary>Creates a ring; fails with <see cref="SegmentAlreadyExistsException"/> if the name exists.</summary>
    public static SharedRing Create(string name, RingOptions? options = null)
    {
        options ??= new RingOptions();
        options.Validate(name);
        return Named(SharedSegment.Create(name, L.PayloadSize(options.Capacity), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>Opens an existing ring, checking its layout.</summary>
    public static SharedRing Open(string name) => Named(SharedSegment.Open(name, Spec, SegmentOptions.Default));

    /// <summary>Opens an existing ring, mapped as <paramref name="mapping"/> says (see <see cref="RingOptions.Mapping"/>).</summary>
    public static SharedRing Open(string name, SegmentMapping mapping) => Named(SharedSegment.Open(name, Spec, new SegmentOptions { Mapping = mapping }));

    /// <summary>Opens the ring if it exists (whatever its capacity), else creates it with <paramref name="options"/>.</summary>
    public static SharedRing OpenOrCreate(string name, RingOptions? options = null)
    {
        options ??= new RingOptions();
        options.Validate(name);
        return Named(SharedSegment.OpenOrCreate(name, L.PayloadSize(options.Capacity), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>Takes the producer role; a second live producer gets <see cref="SegmentInUseException"/>.</summary>
    public RingProducer CreateProducer()
    {
        ThrowIfDisposed();
        return new(this);
    }

    /// <summary>Takes the consumer role; a second live consumer gets <see cref="SegmentInUseException"/>.</summary>
    public RingConsumer CreateConsumer()
    {
        ThrowIfDisposed();
        return new(this);
    }

    /// <summary>
    /// Detaches (once its producer and consumer are disposed too: until then they keep it mapped). The segment is
    /// removed when the last process detaches (it holds nothing worth keeping). Idempotent, thread-safe, never throws.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _users.Remove();
        }
    }

    internal byte* Payload { get; }

    internal byte* Data { get; }

    internal KeyValuePair<string, object?> MetricTag { get; }

    /// <summary>Where the producer counts its parks and the wakes it sends (the metrics, and its line of the ring's header).</summary>
    internal WaitTally ProducerTally { get; }

    /// <summary>Where the consumer counts its parks and the wakes it sends.</summary>
    internal WaitTally ConsumerTally { get; }

    /// <summary>How the ends sleep and wake each other: futex for named rings, a socket pair for untrusted ones.</summary>
    internal Parking Parking { get; }

    internal ref long Field64(int offset) => ref Unsafe.AsRef<long>(Payload + offset);

    /// <summary>A field's address, for asynchronous waits (mapped memory never moves).</summary>
    internal nint Address(int offset) => (nint)(Payload + offset);

    /// <summary>This handle and its ends: what an asynchronous park holds so that the reactor never reads unmapped memory.</summary>
    internal MappingUsers Users => _users;

    internal ref int Field32(int offset) => ref Unsafe.AsRef<int>(Payload + offset);

    internal ref ulong Identity(int offset) => ref Unsafe.AsRef<ulong>(Payload + offset);

    internal ref uint BootTag(int offset) => ref Unsafe.AsRef<uint>(Payload + offset);

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>
    /// A ring in a fresh sealed memfd, for a peer that is not trusted; its descriptors go to the peer over
    /// <paramref name="peer"/> (see <see cref="UntrustedPeering.SharedDescriptors"/>).
    /// </summary>
    internal static SharedRing CreateUntrusted(string label, long capacity, Socket peer)
    {
        var options = new RingOptions { Capacity = capacity };
        options.Validate(label);
        SealedMemfd memory = SealedMemfd.CreateWritable(label, L.PayloadSize(capacity));
        UntrustedLink link;
        try
        {
            link = UntrustedLink.Create(label, peer);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
        Initialise(memory.Pointer, capacity);
        return new SharedRing(label, memory.Pointer, memory.Length, new UntrustedPeering(memory, link));
    }

    /// <summary>
    /// Takes the ring a peer sent: its memfd must be sealed and exactly the size <paramref name="capacity"/> needs, its
    /// wake-up end must be a socket. Whatever is refused is closed; nothing is mapped before it is checked.
    /// </summary>
    internal static SharedRing AdoptUntrusted(string label, long capacity, SafeFileDescriptor memfd, SafeFileDescriptor wake, Socket peer)
    {
        SealedMemfd? memory = null;
        try
        {
            UntrustedLink link = UntrustedLink.Adopt(label, wake, peer);
            memory = SealedMemfd.Adopt(memfd, label, L.PayloadSize(capacity), L.PayloadSize(capacity), writable: true);
            var ring = new SharedRing(label, memory.Pointer, memory.Length, new UntrustedPeering(memory, link));
            return ring.Capacity == capacity ? ring : throw ring.DisposeWith(ring.Violation($"a ring of {capacity} bytes, as announced", $"{ring.Capacity} bytes"));
        }
        catch
        {
            memory?.Dispose();
            memfd.Dispose();
            wake.Dispose();
            throw;
        }
    }

    /// <summary>An untrusted ring's memfd and wake-ups, which go to its peer (a named ring is opened by name, not passed).</summary>
    internal UntrustedPeering Untrusted => _peering as UntrustedPeering ?? throw new InvalidOperationException("A named ring is opened by name, not passed.");

    /// <summary>
    /// Claims a role (see <see cref="ProcessClaim"/>): a dead holder is replaced, a live one refused. The role's waiting
    /// count is its alone, so it starts at zero: a holder killed while parked must not leave it counted for ever, which
    /// would make the other side pay a wake-up system call on every publication.
    /// </summary>
    internal void ClaimRole(int identityOffset, int bootTagOffset, int closedOffset, int waitingOffset, string role)
    {
        // The end keeps the ring mapped from now until ReleaseRole.
        _users.Add(this, () => _peering.ClaimRole(Name, ref Identity(identityOffset), ref BootTag(bootTagOffset), role));
        Volatile.Write(ref Field32(waitingOffset), 0);
        Volatile.Write(ref Field32(closedOffset), 0);
    }

    /// <summary>Gives a role up: marks the end closed, wakes the other side if it waits, frees the role, lets the mapping go.</summary>
    internal void ReleaseRole(int identityOffset, int closedOffset, int otherWaitingOffset, int otherFutexOffset, WaitTally tally)
    {
        Interlocked.Exchange(ref Field32(closedOffset), 1);
        SpinThenPark.WakeIfParked(ref Field64(otherFutexOffset), ref Field32(otherWaitingOffset), Parking, tally);
        _peering.ReleaseRole(ref Identity(identityOffset));
        _users.Remove();
    }

    /// <summary>Throws <see cref="PeerGoneException"/> if the other end closed or its process died.</summary>
    internal void ThrowIfPeerGone(int identityOffset, int bootTagOffset, int closedOffset, string peer, string what)
    {
        if (Volatile.Read(ref Field32(closedOffset)) != 0)
        {
            throw new PeerGoneException($"The {peer} closed its end of the ring.", Name, expected: what, found: $"the {peer} closed") { ClosedNormally = true };
        }
        _peering.ThrowIfPeerDied(Name, ref Identity(identityOffset), ref BootTag(bootTagOffset), peer, what);
    }

    internal PeerViolationException Violation(string expected, string found) => Violation(Name, expected, found);

    /// <summary>What the peer wrote breaks the protocol (a named ring's peer, too, is checked as if it could lie).</summary>
    internal static PeerViolationException Violation(string ring, string expected, string found) =>
        new("The peer wrote what the ring protocol does not allow; nothing of it was used.", ring, expected, found);

    private static SharedRing Named(SharedSegment segment) => new(segment.Name, segment.PayloadPointer, segment.PayloadLength, new NamedPeering(segment));

    private static PayloadSpec Spec { get; } = new(SegmentKind.Ring, TypeFingerprint.None);

    private static SegmentOptions SegmentOptionsFor(RingOptions options) => new() { Mode = options.Mode, RemoveWhenUnused = true, Mapping = options.Mapping };

    private static void Initialise(SharedSegment segment, RingOptions options) => Initialise(segment.PayloadPointer, options.Capacity);

    private static void Initialise(byte* payload, long capacity)
    {
        Unsafe.WriteUnaligned(payload + L.CapacityOffset, capacity);
        Unsafe.WriteUnaligned(payload + L.MaxMessageOffset, L.MaxMessage(capacity));
        // Everything else starts at zero: empty ring, no producer, no consumer, nobody waiting.
    }

    private PeerViolationException DisposeWith(PeerViolationException error)
    {
        Dispose();
        return error;
    }
}
