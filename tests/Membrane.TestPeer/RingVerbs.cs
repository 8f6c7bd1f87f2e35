using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.TestPeer;

/// <summary>Verbs that produce into a shared ring from another process, honestly or not.</summary>
internal static class RingVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "ring-produce" => Produce(name, long.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture),
            int.Parse(rest[2], CultureInfo.InvariantCulture), hang: rest is [_, _, _, "hang"]),
        "ring-write-parts" => WriteInParts(name, long.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture),
            int.Parse(rest[2], CultureInfo.InvariantCulture), int.Parse(rest[3], CultureInfo.InvariantCulture)),
        "ring-half-parts" => WriteHalfInParts(name),
        "ring-vandal" => Vandalise(name, int.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture)),
        _ => -1,
    };

    /// <summary>
    /// Message <paramref name="sequence"/> of a checked stream: its sequence, random bytes, and the XxHash64 of what
    /// precedes the hash in its last 8 bytes. Sizes run from 16 bytes to <paramref name="maxSize"/>.
    /// </summary>
    internal static int Fill(Span<byte> buffer, long sequence, Random random, int maxSize)
    {
        int size = random.Next(16, maxSize + 1);
        Span<byte> message = buffer[..size];
        MemoryMarshal.Write(message, sequence);
        random.NextBytes(message[8..^8]);
        MemoryMarshal.Write(message[^8..], XxHash64.HashToUInt64(message[..^8]));
        return size;
    }

    /// <summary>Produces <paramref name="count"/> checked messages (zero-copy, published in bursts of 16), says "done N".</summary>
    private static int Produce(string name, long count, int seed, int maxSize, bool hang)
    {
        using var ring = SharedRing.Open(name);
        using RingProducer producer = ring.CreateProducer();
        var random = new Random(seed);
        byte[] scratch = new byte[maxSize];
        for (long sequence = 0; sequence < count; sequence++)
        {
            int size = Fill(scratch, sequence, random, maxSize);
            if (!producer.TryReserve(size, TimeSpan.FromSeconds(30), CancellationToken.None, out Span<byte> buffer))
            {
                Verbs.Say("stuck");
                return 1;
            }
            scratch.AsSpan(0, size).CopyTo(buffer);
            producer.Commit(size, publish: sequence % 16 == 15);
        }
        producer.Publish();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {count}"));
        if (hang)
        {
            Thread.Sleep(Timeout.Infinite);
        }
        return 0;
    }

    /// <summary>
    /// Copies <paramref name="count"/> checked messages in with <see cref="RingProducer.Write"/>, those over
    /// <paramref name="partSize"/> bytes in parts; says "done N".
    /// </summary>
    private static int WriteInParts(string name, long count, int seed, int maxSize, int partSize)
    {
        using var ring = SharedRing.Open(name);
        using RingProducer producer = ring.CreateProducer();
        producer.PartSize = partSize;
        var random = new Random(seed);
        byte[] scratch = new byte[maxSize];
        for (long sequence = 0; sequence < count; sequence++)
        {
            int size = Fill(scratch, sequence, random, maxSize);
            producer.Write(scratch.AsSpan(0, size));
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {count}"));
        return 0;
    }

    /// <summary>
    /// Claims the producer's end, then publishes the first two parts of a 1,000-byte message in parts (as a producer
    /// that dies halfway through would leave it), says "half" and hangs, to be killed.
    /// </summary>
    private static unsafe int WriteHalfInParts(string name)
    {
        using var ring = SharedRing.Open(name);
        RingProducer producer = ring.CreateProducer(); // never disposed: this process is killed
        byte* data = ring.Payload + RingLayout.DataOffset;
        *(ulong*)data = RingLayout.RecordHeader(RingLayout.PartTotalSize + 100, RingLayout.FirstPartKind);
        *(long*)(data + RingLayout.RecordHeaderSize) = 1000;
        long second = RingLayout.RecordSize(RingLayout.PartTotalSize + 100);
        *(ulong*)(data + second) = RingLayout.RecordHeader(100, RingLayout.PartKind);
        Volatile.Write(ref ring.Field64(RingLayout.TailOffset), second + RingLayout.RecordSize(100));
        Verbs.Say("half");
        GC.KeepAlive(producer);
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }

    /// <summary>
    /// A hostile producer: <paramref name="acts"/> times, writes a random and plausible-but-wrong value (drawn from
    /// <paramref name="seed"/>) into the ring's indices, flags, record headers and lengths. Says "started", waits for
    /// "go" (the victim is at work by then), and says "done" after the last act.
    /// </summary>
    private static unsafe int Vandalise(string name, int acts, int seed)
    {
        using var segment = SharedSegment.Open(name, new PayloadSpec(SegmentKind.Ring, TypeFingerprint.None), SegmentOptions.Default);
        byte* payload = segment.PayloadPointer;
        long capacity = *(long*)(payload + RingLayout.CapacityOffset);
        var random = new Random(seed);
        Verbs.Say("started");
        if (Console.In.ReadLine() != "go")
        {
            return 3;
        }
        for (int act = 0; act < acts; act++)
        {
            Scribble(payload, capacity, random);
        }
        Verbs.Say("done");
        return 0;
    }

    /// <summary>One act of vandalism on a ring's payload: a random and plausible-but-wrong value in an index, flag, record header or the data.</summary>
    internal static unsafe void Scribble(byte* payload, long capacity, Random random)
    {
        long head = Volatile.Read(ref *(long*)(payload + RingLayout.HeadOffset));
        long near = head + (random.Next(-4, 64) * 8);
        switch (random.Next(6))
        {
            case 0: // a tail that moves back, jumps more than a ring, or is unaligned
                Volatile.Write(ref *(long*)(payload + RingLayout.TailOffset), random.Next(3) switch { 0 => near, 1 => head + capacity + 8, _ => near + 3 });
                break;
            case 1: // a record header with a plausible kind and a wrong length
                long at = (near & (capacity - 1) & ~7L) + RingLayout.DataOffset;
                *(int*)(payload + at) = random.Next(5) switch { 0 => -1, 1 => int.MaxValue, 2 => (int)capacity, _ => random.Next(0, 256) };
                *(int*)(payload + at + 4) = random.Next(0, 6);
                break;
            case 2: // the waiting flags and closed flags: spurious wakes and false alarms
                *(int*)(payload + (random.Next(2) == 0 ? RingLayout.ConsumerWaitingOffset : RingLayout.ProducerWaitingOffset)) = random.Next(2);
                break;
            case 3: // a head the consumer did not publish
                Volatile.Write(ref *(long*)(payload + RingLayout.HeadOffset), near);
                break;
            default: // anything, anywhere in the data
                *(long*)(payload + RingLayout.DataOffset + (random.NextInt64(capacity / 8) * 8)) = random.NextInt64();
                break;
        }
        Thread.SpinWait(random.Next(1, 200));
    }
}
