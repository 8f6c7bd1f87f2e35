using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.Queues.QueueLayout;

namespace Membrane.Queues;

/// <summary>
/// A queue of variable-size messages in shared memory with many producers (in any processes, on any threads: one
/// <see cref="QueueProducer"/> per thread) and one consumer. Each producer's messages arrive in its order.
/// <para>
/// Protocol. A producer claims room with one CAS on the tail, having first written the range it claims into its own
/// producer slot; then it writes the claimed record's header, naming itself (slot and generation), clears its slot's
/// range, copies the message in and commits by rewriting the header as a message (release). The consumer reads records
/// in order from its head, zeroes what it releases (so all room ahead of the tail is zero) and publishes its head.
/// </para>
/// <para>
/// A producer that dies holding a claim never stops the consumer for good: a record still claimed whose producer is dead
/// (or whose slot another producer has taken since), and a claim that died before its header was written (the header is
/// still zero behind the tail and no live producer's slot holds a range around it), are skipped as aborted — counted in
/// <see cref="QueueConsumer.AbortedClaims"/>, the <c>membrane.queue.aborted</c> metric and the segment itself — once the
/// consumer has found it blocked for <see cref="QueueConsumer.AbandonedClaimCheck"/> (then at most every that long).
/// A live producer's claim is never skipped, however slow.
/// </para>
/// </summary>
[DebuggerDisplay("SharedQueue {Name} ({Capacity} B)")]
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "It is a queue: the name users look for, beside SharedRing.")]
public sealed unsafe class SharedQueue : IDisposable
{
    private readonly SharedSegment _segment;
    private readonly MappingUsers _users;
    private int _disposed;

    private SharedQueue(SharedSegment segment)
    {
        _segment = segment;
        _users = new MappingUsers(segment.Dispose);
        Payload = segment.PayloadPointer;
        long capacity = Unsafe.ReadUnaligned<long>(Payload + L.CapacityOffset);
        int maxMessage = Unsafe.ReadUnaligned<int>(Payload + L.MaxMessageOffset);
        int slots = Unsafe.ReadUnaligned<int>(Payload + L.ProducerSlotsOffset);
        string? problem =
            capacity < L.MinCapacity || capacity > L.MaxCapacity || !BitOperations.IsPow2(capacity) ? $"capacity {capacity}"
            : slots is < 1 or > L.MaxProducerSlots ? $"{slots} producer slots"
            : L.PayloadSize(capacity, slots) > segment.PayloadLength ? $"capacity {capacity} and {slots} producer slots in a payload of {segment.PayloadLength} bytes"
            : maxMessage != L.MaxMessage(capacity) ? $"max message {maxMessage} for capacity {capacity}"
            : null;
        if (problem is not null)
        {
            Dispose();
            throw new SegmentCorruptException("Its queue header is inconsistent.", segment.Name, expected: "a consistent queue layout", found: problem);
        }
        Capacity = capacity;
        MaxMessageSize = maxMessage;
        ProducerSlots = slots;
        Data = Payload + L.DataOffset(slots);
        MetricTag = MembraneMetrics.Tag(segment.Name);
        ProducersTally = new WaitTally(MetricTag, Address(L.ProducersParksOffset), Address(L.ProducersWakesOffset));
        ConsumerTally = new WaitTally(MetricTag, Address(L.ConsumerParksOffset), Address(L.ConsumerWakesOffset));
    }

    /// <summary>The segment's name.</summary>
    public string Name => _segment.Name;

    /// <summary>Bytes of record space (a power of two).</summary>
    public long Capacity { get; }

    /// <summary>The largest message, in bytes: half the capacity less a record header.</summary>
    public int MaxMessageSize { get; }

    /// <summary>How many producers may be open at once (<see cref="QueueOptions.MaxProducers"/>).</summary>
    public int ProducerSlots { get; }

    /// <summary>Bytes claimed by producers and not yet released by the consumer (records, headers and padding included).</summary>
    public long QueuedBytes => Math.Max(0, Volatile.Read(ref Field64(L.TailOffset)) - Volatile.Read(ref Field64(L.HeadOffset)));

    /// <summary>Claims skipped because their producer died before committing them, since the queue was created.</summary>
    public long AbortedClaims => Volatile.Read(ref Field64(L.AbortedClaimsOffset));

    /// <summary>Creates a queue; fails with <see cref="SegmentAlreadyExistsException"/> if the name exists.</summary>
    public static SharedQueue Create(string name, QueueOptions? options = null)
    {
        options ??= new QueueOptions();
        options.Validate(name);
        return new(SharedSegment.Create(name, L.PayloadSize(options.Capacity, options.MaxProducers), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>Opens an existing queue, checking its layout.</summary>
    public static SharedQueue Open(string name) => new(SharedSegment.Open(name, Spec, SegmentOptions.Default));

    /// <summary>Opens an existing queue, mapped as <paramref name="mapping"/> says (see <see cref="QueueOptions.Mapping"/>).</summary>
    public static SharedQueue Open(string name, SegmentMapping mapping) => new(SharedSegment.Open(name, Spec, new SegmentOptions { Mapping = mapping }));

    /// <summary>Opens the queue if it exists (whatever its options), else creates it with <paramref name="options"/>.</summary>
    public static SharedQueue OpenOrCreate(string name, QueueOptions? options = null)
    {
        options ??= new QueueOptions();
        options.Validate(name);
        return new(SharedSegment.OpenOrCreate(name, L.PayloadSize(options.Capacity, options.MaxProducers), Spec, SegmentOptionsFor(options), s => Initialise(s, options)));
    }

    /// <summary>
    /// Takes a producer slot (a dead producer's slot is taken over). One producer is used by one thread at a time.
    /// </summary>
    /// <exception cref="SegmentInUseException">Every slot is held by a live producer.</exception>
    public QueueProducer CreateProducer()
    {
        ThrowIfDisposed();
        return new(this);
    }

    /// <summary>Takes the consumer role; a second live consumer gets <see cref="SegmentInUseException"/>.</summary>
    public QueueConsumer CreateConsumer()
    {
        ThrowIfDisposed();
        return new(this);
    }

    /// <summary>
    /// Who holds each producer slot now: the slot number, the process and whether it is alive (free slots are left out).
    /// </summary>
    public IReadOnlyList<QueueProducerInfo> ReadProducers()
    {
        ThrowIfDisposed();
        var producers = new List<QueueProducerInfo>();
        for (int slot = 0; slot < ProducerSlots; slot++)
        {
            if (ProcessClaim.Holder(ref Identity(slot), ref BootTag(slot)) is { } holder)
            {
                producers.Add(new QueueProducerInfo(slot, holder, IsAlive(holder.Packed)));
            }
        }
        return producers;
    }

    /// <summary>
    /// Detaches (once its producers and consumer are disposed too: until then they keep it mapped). The segment is
    /// removed when the last process detaches. Idempotent, thread-safe, never throws.
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

    /// <summary>Where the producers count their parks and the wakes they send (the metrics, and their line of the header).</summary>
    internal WaitTally ProducersTally { get; }

    /// <summary>Where the consumer counts its parks and the wakes it sends.</summary>
    internal WaitTally ConsumerTally { get; }

    internal MappingUsers Users => _users;

    /// <summary>A field's address, for asynchronous waits (mapped memory never moves).</summary>
    internal nint Address(int offset) => (nint)(Payload + offset);

    internal ref long Field64(int offset) => ref Unsafe.AsRef<long>(Payload + offset);

    internal ref int Field32(int offset) => ref Unsafe.AsRef<int>(Payload + offset);

    internal ref ulong Identity(int slot) => ref Unsafe.AsRef<ulong>(SlotAt(slot) + L.SlotIdentityOffset);

    internal ref uint BootTag(int slot) => ref Unsafe.AsRef<uint>(SlotAt(slot) + L.SlotBootTagOffset);

    internal ref uint Generation(int slot) => ref Unsafe.AsRef<uint>(SlotAt(slot) + L.SlotGenerationOffset);

    internal ref long ClaimStart(int slot) => ref Unsafe.AsRef<long>(SlotAt(slot) + L.SlotClaimStartOffset);

    internal ref long ClaimEnd(int slot) => ref Unsafe.AsRef<long>(SlotAt(slot) + L.SlotClaimEndOffset);

    internal bool IsAlive(ulong identity) => _segment.Processes.IsAlive(identity);

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Takes a producer slot for this process, keeping the queue mapped until <see cref="ReleaseSlot"/>; returns its number.</summary>
    internal int ClaimSlot()
    {
        int claimed = -1;
        _users.Add(this, () =>
        {
            for (int slot = 0; slot < ProducerSlots; slot++)
            {
                if (ProcessClaim.TryClaim(ref Identity(slot), ref BootTag(slot), _segment.Processes) is null)
                {
                    claimed = slot;
                    return;
                }
            }
            throw new SegmentInUseException("Every producer slot of the queue is held by a live producer.", Name,
                expected: "a free producer slot", found: $"{ProducerSlots} live producers");
        });
        // A new generation: a claim the slot's previous holder left is no longer anyone's (see QueueConsumer).
        Volatile.Write(ref ClaimStart(claimed), -1);
        Interlocked.Increment(ref Generation(claimed));
        return claimed;
    }

    internal void ReleaseSlot(int slot)
    {
        Volatile.Write(ref ClaimStart(slot), -1);
        ProcessClaim.Release(ref Identity(slot));
        _users.Remove();
    }

    /// <summary>Claims the consumer role (a dead holder is replaced), keeping the queue mapped until <see cref="ReleaseConsumer"/>.</summary>
    internal void ClaimConsumer()
    {
        _users.Add(this, () =>
        {
            if (ProcessClaim.TryClaim(ref Unsafe.AsRef<ulong>(Payload + L.ConsumerIdentityOffset), ref Unsafe.AsRef<uint>(Payload + L.ConsumerBootTagOffset), _segment.Processes) is { } holder)
            {
                throw new SegmentInUseException("The queue has a live consumer already; it takes one at a time.", Name,
                    expected: "no live consumer", found: $"consumer pid {holder.Pid}");
            }
        });
        Volatile.Write(ref Field32(L.ConsumerWaitingOffset), 0); // its alone: a predecessor killed while parked must not stay counted
        Volatile.Write(ref Field32(L.ConsumerClosedOffset), 0);
    }

    internal void ReleaseConsumer()
    {
        Interlocked.Exchange(ref Field32(L.ConsumerClosedOffset), 1);
        SpinThenPark.WakeIfParked(ref Field64(L.HeadOffset), ref Field32(L.ProducersWaitingOffset), Parking.Futex, ConsumerTally);
        ProcessClaim.Release(ref Unsafe.AsRef<ulong>(Payload + L.ConsumerIdentityOffset));
        _users.Remove();
    }

    /// <summary>Throws <see cref="PeerGoneException"/> if the consumer closed its end or died.</summary>
    internal void ThrowIfConsumerGone()
    {
        if (Volatile.Read(ref Field32(L.ConsumerClosedOffset)) != 0)
        {
            throw new PeerGoneException("The consumer closed its end of the queue.", Name, expected: "room for a message", found: "the consumer closed") { ClosedNormally = true };
        }
        if (ProcessClaim.Holder(ref Unsafe.AsRef<ulong>(Payload + L.ConsumerIdentityOffset), ref Unsafe.AsRef<uint>(Payload + L.ConsumerBootTagOffset)) is { } holder && !IsAlive(holder.Packed))
        {
            throw new PeerGoneException("The consumer process died.", Name, expected: "room for a message", found: $"consumer pid {holder.Pid} dead");
        }
    }

    private byte* SlotAt(int slot) => Payload + L.SlotTableOffset + ((long)slot * L.SlotSize);

    private static PayloadSpec Spec { get; } = new(SegmentKind.Queue, TypeFingerprint.None);

    private static SegmentOptions SegmentOptionsFor(QueueOptions options) => new() { Mode = options.Mode, RemoveWhenUnused = true, Mapping = options.Mapping };

    private static void Initialise(SharedSegment segment, QueueOptions options)
    {
        byte* payload = segment.PayloadPointer;
        Unsafe.WriteUnaligned(payload + L.CapacityOffset, options.Capacity);
        Unsafe.WriteUnaligned(payload + L.MaxMessageOffset, L.MaxMessage(options.Capacity));
        Unsafe.WriteUnaligned(payload + L.ProducerSlotsOffset, options.MaxProducers);
        for (int slot = 0; slot < options.MaxProducers; slot++)
        {
            Unsafe.WriteUnaligned(payload + L.SlotTableOffset + ((long)slot * L.SlotSize) + L.SlotClaimStartOffset, -1L);
        }
        // Everything else starts at zero: empty queue, no producer, no consumer, nobody waiting, all room free.
    }
}

/// <summary>A producer slot of a <see cref="SharedQueue"/> and who holds it.</summary>
/// <param name="Slot">The slot's number.</param>
/// <param name="Holder">The process holding it.</param>
/// <param name="Alive">Whether that process is alive (a dead one's slot is taken over by the next producer).</param>
public sealed record QueueProducerInfo(int Slot, ProcessIdentity Holder, bool Alive);
