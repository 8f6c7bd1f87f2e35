using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using Membrane.Diagnostics;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.RingLayout;

namespace Membrane;

/// <summary>
/// A wait-free single-producer single-consumer ring of variable-size messages in a named shared segment. Open it in
/// both processes, then take one role in each: <see cref="CreateProducer"/> and <see cref="CreateConsumer"/>.
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
    private readonly SharedSegment _segment;

    private SharedRing(SharedSegment segment)
    {
        _segment = segment;
        Payload = segment.PayloadPointer;
        long capacity = Unsafe.ReadUnaligned<long>(Payload + L.CapacityOffset);
        int maxMessage = Unsafe.ReadUnaligned<int>(Payload + L.MaxMessageOffset);
        string? problem =
            capacity < L.MinCapacity || capacity > L.MaxCapacity || !BitOperations.IsPow2(capacity) ? $"capacity {capacity}"
            : L.PayloadSize(capacity) > segment.PayloadLength ? $"capacity {capacity} in a payload of {segment.PayloadLength} bytes"
            : maxMessage != L.MaxMessage(capacity) ? $"max message {maxMessage} for capacity {capacity}"
            : null;
        if (problem is not null)
        {
            segment.Dispose();
            throw new SegmentCorruptException("Its ring header is inconsistent.", segment.Name, expected: "a consistent ring layout", found: problem);
        }
        // Learnt once: neither side ever re-reads these from shared memory.
        Capacity = capacity;
        MaxMessageSize = maxMessage;
        Data = Payload + L.DataOffset;
        MetricTag = MembraneMetrics.Tag(segment.Name);
    }

    /// <summary>The segment's name.</summary>
    public string Name => _segment.Name;

    /// <summary>Bytes of record space (a power of two).</summary>
    public long Capacity { get; }

    /// <summary>The largest message, in bytes: half the capacity less a record header, so it always fits after a wrap.</summary>
    public int MaxMessageSize { get; }

    /// <summary>Creates a ring; fails with <see cref="SegmentAlreadyExistsException"/> if the name exists.</summary>
    public static SharedRing Create(string name, RingOptions? options = null)
    {
        options ??= new RingOptions();
        options.Validate(name);
        return new SharedRing(SharedSegment.Create(name, L.PayloadSize(options.Capacity), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>Opens an existing ring, checking its layout.</summary>
    public static SharedRing Open(string name) => new(SharedSegment.Open(name, Spec, SegmentOptions.Default));

    /// <summary>Opens the ring if it exists (whatever its capacity), else creates it with <paramref name="options"/>.</summary>
    public static SharedRing OpenOrCreate(string name, RingOptions? options = null)
    {
        options ??= new RingOptions();
        options.Validate(name);
        return new SharedRing(SharedSegment.OpenOrCreate(name, L.PayloadSize(options.Capacity), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>Takes the producer role; a second live producer gets <see cref="SegmentInUseException"/>.</summary>
    public RingProducer CreateProducer() => new(this);

    /// <summary>Takes the consumer role; a second live consumer gets <see cref="SegmentInUseException"/>.</summary>
    public RingConsumer CreateConsumer() => new(this);

    /// <summary>Detaches. The segment is removed when the last process detaches (it holds nothing worth keeping).</summary>
    public void Dispose() => _segment.Dispose();

    internal byte* Payload { get; }

    internal byte* Data { get; }

    internal KeyValuePair<string, object?> MetricTag { get; }

    internal ref long Field64(int offset) => ref Unsafe.AsRef<long>(Payload + offset);

    internal ref int Field32(int offset) => ref Unsafe.AsRef<int>(Payload + offset);

    internal ref ulong Identity(int offset) => ref Unsafe.AsRef<ulong>(Payload + offset);

    internal ref uint BootTag(int offset) => ref Unsafe.AsRef<uint>(Payload + offset);

    internal void ThrowIfDisposed() => _segment.ThrowIfDisposed();

    /// <summary>Claims a role (see <see cref="ProcessClaim"/>): a dead holder is replaced, a live one refused.</summary>
    internal void ClaimRole(int identityOffset, int bootTagOffset, int closedOffset, string role)
    {
        if (ProcessClaim.TryClaim(ref Identity(identityOffset), ref BootTag(bootTagOffset)) is { } holder)
        {
            throw new SegmentInUseException($"The ring has a live {role} already; it takes one at a time.", Name,
                expected: $"no live {role}", found: $"{role} pid {holder.Pid}");
        }
        Volatile.Write(ref Field32(closedOffset), 0);
    }

    /// <summary>Gives a role up: marks the end closed, wakes the other side if it waits, frees the role.</summary>
    internal void ReleaseRole(int identityOffset, int closedOffset, int otherWaitingOffset, int otherFutexOffset)
    {
        Interlocked.Exchange(ref Field32(closedOffset), 1);
        SpinThenPark.WakeIfParked(ref Field64(otherFutexOffset), ref Field32(otherWaitingOffset));
        ProcessClaim.Release(ref Identity(identityOffset));
    }

    /// <summary>Throws <see cref="PeerGoneException"/> if the other end closed or its process died.</summary>
    internal void ThrowIfPeerGone(int identityOffset, int bootTagOffset, int closedOffset, string peer, string what)
    {
        if (Volatile.Read(ref Field32(closedOffset)) != 0)
        {
            throw new PeerGoneException($"The {peer} closed its end of the ring.", Name, expected: what, found: $"the {peer} closed");
        }
        if (ProcessClaim.Holder(ref Identity(identityOffset), ref BootTag(bootTagOffset)) is { } holder && !holder.IsAlive())
        {
            throw new PeerGoneException($"The {peer} process died.", Name, expected: what, found: $"{peer} pid {holder.Pid} dead");
        }
    }

    internal PeerViolationException Violation(string expected, string found) =>
        new("The peer wrote what the ring protocol does not allow; nothing of it was used.", Name, expected, found);

    private static PayloadSpec Spec { get; } = new(SegmentKind.Ring, TypeFingerprint.None);

    private static SegmentOptions SegmentOptionsFor(RingOptions options) => new() { Mode = options.Mode, RemoveWhenUnused = true };

    private static void Initialise(SharedSegment segment, RingOptions options)
    {
        byte* payload = segment.PayloadPointer;
        Unsafe.WriteUnaligned(payload + L.CapacityOffset, options.Capacity);
        Unsafe.WriteUnaligned(payload + L.MaxMessageOffset, L.MaxMessage(options.Capacity));
        // Everything else starts at zero: empty ring, no producer, no consumer, nobody waiting.
    }
}
