using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Rings;

namespace Membrane.Fuzz;

/// <summary>
/// The fuzz target: a ring whose shared state a peer wrote arbitrarily. The input is laid over the ring: bytes 0..8
/// become the head the consumer resumes at, 8..16 the tail the producer published, the rest the record area from its
/// start. A consumer then reads until the ring is empty or it refuses, once in place and once copying (which also
/// takes messages in parts). Allowed outcomes: messages inside the ring and no longer than the maximum, or
/// <see cref="PeerViolationException"/>. Anything else (another exception, a crash,
/// a hang) is a finding.
/// </summary>
public static unsafe class RecordParserTarget
{
    /// <summary>The ring's record area in bytes: small, so that inputs reach the wrap.</summary>
    public const int Capacity = 4096;

    /// <summary>A ring for the target to write over (removed when the process lets go of it).</summary>
    public static SharedRing CreateRing(string name) => SharedRing.Create(name, new RingOptions { Capacity = Capacity });

    /// <summary>
    /// Runs one input over <paramref name="ring"/> (made by <see cref="CreateRing"/>) twice: read in place, which takes
    /// whole messages only, then copied out by the read that also takes messages in parts. Returns how many messages the
    /// two accepted.
    /// </summary>
    public static int Run(SharedRing ring, ReadOnlySpan<byte> input) => ReadInPlace(ring, input) + ReadCopying(ring, input);

    private static int ReadInPlace(SharedRing ring, ReadOnlySpan<byte> input)
    {
        LayOver(ring, input);
        int accepted = 0;
        try
        {
            using RingConsumer consumer = ring.CreateConsumer();
            for (int i = 0; i < 2 * Capacity / RingLayout.RecordHeaderSize && consumer.TryRead(out RingLease lease); i++)
            {
                using (lease)
                {
                    byte* start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(lease.Message));
                    if (lease.Message.Length > ring.MaxMessageSize || start < ring.Data || start + lease.Message.Length > ring.Data + Capacity)
                    {
                        throw new InvalidOperationException($"a message of {lease.Message.Length} bytes at offset {start - ring.Data} passed the checks");
                    }
                    accepted++;
                }
            }
        }
        catch (PeerViolationException)
        {
            // the expected refusal
        }
        return accepted;
    }

    private static int ReadCopying(SharedRing ring, ReadOnlySpan<byte> input)
    {
        LayOver(ring, input);
        int accepted = 0;
        byte[] destination = new byte[ring.MaxMessageSize];
        try
        {
            using RingConsumer consumer = ring.CreateConsumer();
            consumer.SpinBeforeParking = TimeSpan.Zero; // a message in parts cut short by the tail ends the read at once
            for (int i = 0; i < 2 * Capacity / RingLayout.RecordHeaderSize && consumer.TryRead(destination, TimeSpan.Zero, CancellationToken.None, out int length); i++)
            {
                if (length > ring.MaxMessageSize)
                {
                    throw new InvalidOperationException($"a message of {length} bytes passed the checks");
                }
                accepted++;
            }
        }
        catch (PeerViolationException)
        {
            // the expected refusal
        }
        return accepted;
    }

    /// <summary>Lays the input over the ring: head, tail, then the record area from its start.</summary>
    private static void LayOver(SharedRing ring, ReadOnlySpan<byte> input)
    {
        Span<byte> payload = new(ring.Payload, (int)RingLayout.PayloadSize(Capacity));
        payload[RingLayout.DataOffset..].Clear();
        long head = input.Length >= 8 ? BinaryPrimitives.ReadInt64LittleEndian(input) : 0;
        long tail = input.Length >= 16 ? BinaryPrimitives.ReadInt64LittleEndian(input[8..]) : 0;
        ReadOnlySpan<byte> records = input.Length > 16 ? input[16..] : default;
        records[..Math.Min(records.Length, Capacity)].CopyTo(payload[RingLayout.DataOffset..]);
        BinaryPrimitives.WriteInt64LittleEndian(payload[RingLayout.HeadOffset..], head);
        BinaryPrimitives.WriteInt64LittleEndian(payload[RingLayout.TailOffset..], tail);
        BinaryPrimitives.WriteInt32LittleEndian(payload[RingLayout.ProducerClosedOffset..], 0);
    }
}
