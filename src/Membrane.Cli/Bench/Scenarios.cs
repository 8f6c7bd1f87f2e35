using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using HdrHistogram;

namespace Membrane.Cli.Bench;

/// <summary>
/// The two measurements, both sides of each. Every message carries its sequence number in its first 8 bytes, and
/// both sides check it, so that a run that lost, duplicated or reordered a message fails instead of reporting.
/// </summary>
internal static class Scenarios
{
    /// <summary>The sequence that ends a run.</summary>
    private const long End = -1;

    /// <summary>
    /// Messages a throughput run sends as one burst (a transport that can batch publishes it once). 64 because one
    /// publication costs a full fence, which waits for every store before it to reach the other core (about 0.4 µs on the
    /// VM of an earlier issue: 6 ns a message over 64 of 64 B, but 25 ns over 16).
    /// </summary>
    internal const int BurstLength = 64;

    /// <summary>
    /// Round trips (send, wait for the echo) for <paramref name="budget"/>: the first fifth is warm-up and is not
    /// recorded. Returns the histogram of round-trip times in nanoseconds, and in <paramref name="exchanged"/> the round
    /// trips made, warm-up included.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal static LongHistogram Latency(IBenchLink link, int size, TimeSpan budget, out long exchanged)
    {
        byte[] message = new byte[size];
        byte[] reply = new byte[size];
        Random.Shared.NextBytes(message);
        var histogram = new LongHistogram(TimeStamp.Seconds(60), 3);
        long warmupEnds = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds / 5 * Stopwatch.Frequency);
        long ends = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        for (long sequence = 0; ; sequence++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(message, sequence);
            long start = Stopwatch.GetTimestamp();
            link.Send(message);
            int length = link.Receive(reply);
            long finish = Stopwatch.GetTimestamp();
            CheckEcho(length, size, reply, sequence);
            if (start >= warmupEnds)
            {
                histogram.RecordValue((finish - start) * 1_000_000_000 / Stopwatch.Frequency);
            }
            if (finish >= ends && histogram.TotalCount >= 100)
            {
                break;
            }
        }
        exchanged = BinaryPrimitives.ReadInt64LittleEndian(reply) + 1;
        BinaryPrimitives.WriteInt64LittleEndian(message, End);
        link.Send(message);
        return histogram;
    }

    /// <summary>The peer's side of <see cref="Latency"/>: echoes every message until the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal static void Echo(IBenchLink link, int size)
    {
        byte[] message = new byte[size];
        while (true)
        {
            int length = link.Receive(message);
            if (BinaryPrimitives.ReadInt64LittleEndian(message) == End)
            {
                return;
            }
            link.Send(message.AsSpan(0, length));
        }
    }

    /// <summary>
    /// <see cref="Latency"/> with every send and receive awaited, run on the thread pool as a service's loop would be.
    /// </summary>
    internal static LongHistogram LatencyAsync(IAsyncBenchLink link, int size, TimeSpan budget, out long exchanged)
    {
        (LongHistogram histogram, long count) = Task.Run(() => LatencyLoopAsync(link, size, budget)).GetAwaiter().GetResult();
        exchanged = count;
        return histogram;
    }

    private static async Task<(LongHistogram Histogram, long Exchanged)> LatencyLoopAsync(IAsyncBenchLink link, int size, TimeSpan budget)
    {
        byte[] message = new byte[size];
        byte[] reply = new byte[size];
        Random.Shared.NextBytes(message);
        var histogram = new LongHistogram(TimeStamp.Seconds(60), 3);
        long warmupEnds = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds / 5 * Stopwatch.Frequency);
        long ends = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        for (long sequence = 0; ; sequence++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(message, sequence);
            long start = Stopwatch.GetTimestamp();
            await link.SendAsync(message).ConfigureAwait(false);
            int length = await link.ReceiveAsync(reply).ConfigureAwait(false);
            long finish = Stopwatch.GetTimestamp();
            CheckEcho(length, size, reply, sequence);
            if (start >= warmupEnds)
            {
                histogram.RecordValue((finish - start) * 1_000_000_000 / Stopwatch.Frequency);
            }
            if (finish >= ends && histogram.TotalCount >= 100)
            {
                break;
            }
        }
        long exchanged = BinaryPrimitives.ReadInt64LittleEndian(reply) + 1;
        BinaryPrimitives.WriteInt64LittleEndian(message, End);
        await link.SendAsync(message).ConfigureAwait(false);
        return (histogram, exchanged);
    }

    /// <summary>The peer's side of <see cref="LatencyAsync"/>: echoes every message until the end, awaiting each.</summary>
    internal static void EchoAsync(IAsyncBenchLink link, int size) => Task.Run(async () =>
    {
        byte[] message = new byte[size];
        while (true)
        {
            int length = await link.ReceiveAsync(message).ConfigureAwait(false);
            if (BinaryPrimitives.ReadInt64LittleEndian(message) == End)
            {
                return;
            }
            await link.SendAsync(message.AsMemory(0, length)).ConfigureAwait(false);
        }
    }).GetAwaiter().GetResult();

    /// <summary>
    /// One-way messages for <paramref name="budget"/> after a warm-up of a fifth of it, then the end; the time runs
    /// until the peer acknowledges having received every one of them in order. <paramref name="exchanged"/>: the messages
    /// sent, warm-up included.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal static (long Messages, TimeSpan Elapsed) Throughput(IBenchLink link, int size, TimeSpan budget, out long exchanged)
    {
        byte[] message = new byte[size];
        Random.Shared.NextBytes(message);
        long sequence = 0;
        Stream(link, message, ref sequence, budget / 5);
        long start = Stopwatch.GetTimestamp();
        long first = sequence;
        Stream(link, message, ref sequence, budget);
        BinaryPrimitives.WriteInt64LittleEndian(message, End);
        link.Send(message);
        int length = link.Receive(message);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        long acknowledged = BinaryPrimitives.ReadInt64LittleEndian(message);
        Check(length == size && acknowledged == sequence, $"the peer received {acknowledged} of {sequence} messages in order");
        exchanged = sequence;
        return (sequence - first, elapsed);
    }

    /// <summary>The peer's side of <see cref="Throughput"/>: receives and checks every message, then acknowledges the count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal static void Drain(IBenchLink link, int size)
    {
        byte[] message = new byte[size];
        long expected = 0;
        while (true)
        {
            int length = link.Receive(message);
            long sequence = BinaryPrimitives.ReadInt64LittleEndian(message);
            if (sequence == End || sequence != expected || length != size)
            {
                BinaryPrimitives.WriteInt64LittleEndian(message, sequence == End ? expected : -2);
                link.Send(message);
                return;
            }
            expected++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    private static void Stream(IBenchLink link, byte[] message, ref long sequence, TimeSpan duration)
    {
        long ends = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        do
        {
            for (int i = 0; i < BurstLength; i++, sequence++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(message, sequence);
                link.Send(message, endOfBurst: i == BurstLength - 1);
            }
        }
        while (Stopwatch.GetTimestamp() < ends);
    }

    private static void CheckEcho(int length, int size, byte[] reply, long sequence) =>
        Check(length == size && BinaryPrimitives.ReadInt64LittleEndian(reply) == sequence, $"round trip {sequence} came back as {length} bytes, sequence {BinaryPrimitives.ReadInt64LittleEndian(reply)}");

    private static void Check(bool condition, string failure)
    {
        if (!condition)
        {
            throw new InvalidDataException(failure);
        }
    }
}
