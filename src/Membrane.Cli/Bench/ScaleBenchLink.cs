using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Membrane.Rings;

namespace Membrane.Cli.Bench;

/// <summary>
/// A link whose scenario is not a stream of messages: the bench's side (<see cref="Measure"/>) and the peer's
/// (<see cref="Serve"/>) play their parts and exchange what they measured as lines (the peer's stdout, its stdin).
/// </summary>
internal interface ISelfTimedLink : IBenchLink
{
    /// <summary>The bench's side: <paramref name="listen"/> reads the peer's next line. <paramref name="exchanged"/>: messages moved.</summary>
    BenchResult Measure(BenchResult row, Func<string> listen, out long exchanged);

    /// <summary>The peer's side: <paramref name="say"/> prints a line for the bench.</summary>
    void Serve(Action<string> say);
}

/// <summary>
/// Asynchronous waits at scale: the peer process (a fresh one each run) awaits one <c>ReadAsync</c> on each of
/// <see cref="Rings"/> rings and, once all are parked, says how many threads it gained; the bench then writes one
/// message to each ring, one every <see cref="Pace"/>, carrying the moment it was written, and the peer says the wake
/// latencies (write to the awaiting code running, one way; the clock is the system's monotonic one, common to both).
/// </summary>
internal sealed class ScaleBenchLink : ISelfTimedLink
{
    internal const int Rings = 1000;

    /// <summary>Between two writes: long enough that each wake is measured alone, not queued behind the previous ones.</summary>
    private static readonly TimeSpan s_pace = TimeSpan.FromMicroseconds(500);

    private readonly SharedRing[] _rings;
    private readonly int _size;

    private ScaleBenchLink(SharedRing[] rings, int size)
    {
        _rings = rings;
        _size = size;
    }

    internal static TimeSpan Pace => s_pace;

    /// <summary>Ring <paramref name="i"/> of the set named by <paramref name="prefix"/>.</summary>
    internal static string RingName(string prefix, int i) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");

    /// <summary>Room for two messages of <paramref name="size"/> bytes: a thousand rings of the bench's usual room would take gigabytes.</summary>
    internal static long Capacity(int size) => (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(4096, 4 * (size + 64)));

    internal static ScaleBenchLink Create(string prefix, int size)
    {
        var rings = new List<SharedRing>(Rings);
        try
        {
            for (int i = 0; i < Rings; i++)
            {
                rings.Add(SharedRing.Create(RingName(prefix, i), new RingOptions { Capacity = Capacity(size) }));
            }
        }
        catch
        {
            rings.ForEach(ring => ring.Dispose());
            throw;
        }
        return new ScaleBenchLink([.. rings], size);
    }

    internal static ScaleBenchLink Open(string prefix, int size) =>
        new([.. Enumerable.Range(0, Rings).Select(i => SharedRing.Open(RingName(prefix, i)))], size);

    public BenchResult Measure(BenchResult row, Func<string> listen, out long exchanged)
    {
        string parked = listen();
        int gained = parked.Split(' ') is ["parked", string threads] ? int.Parse(threads, CultureInfo.InvariantCulture)
            : throw new InvalidDataException($"the peer said \"{parked}\" instead of \"parked THREADS\"");
        RingProducer[] producers = [.. _rings.Select(ring => ring.CreateProducer())];
        try
        {
            byte[] message = new byte[_size];
            long paceTicks = (long)(s_pace.TotalSeconds * Stopwatch.Frequency);
            for (int i = 0; i < Rings; i++)
            {
                long next = Stopwatch.GetTimestamp() + paceTicks;
                BinaryPrimitives.WriteInt64LittleEndian(message, Stopwatch.GetTimestamp());
                producers[i].Write(message);
                while (Stopwatch.GetTimestamp() < next)
                {
                    Thread.SpinWait(20);
                }
            }
        }
        finally
        {
            foreach (RingProducer producer in producers)
            {
                producer.Dispose();
            }
        }
        string said = listen();
        long[] woke = said.Split(' ') is ["woke", .. string[] figures] && figures.Length == 4
            ? [.. figures.Select(f => long.Parse(f, CultureInfo.InvariantCulture))]
            : throw new InvalidDataException($"the peer said \"{said}\" instead of \"woke P50 P99 P999 MAX\"");
        exchanged = Rings;
        return row with { P50Ns = woke[0], P99Ns = woke[1], P999Ns = woke[2], MaxNs = woke[3], Samples = Rings, ExtraThreads = gained };
    }

    public void Serve(Action<string> say)
    {
        RingConsumer[] consumers = [.. _rings.Select(ring => ring.CreateConsumer())];
        try
        {
            var latencies = new long[Rings];
            using var counters = new WaitCounters();
            // The buffers before the count: a thousand of 64 KiB are 64 MiB of allocation, enough for the runtime to start
            // its background GC thread, which is the harness's cost, not the waits'.
            byte[][] buffers = [.. consumers.Select(_ => new byte[_size])];
            int before = Threads();
            Task[] reads = [.. consumers.Select((consumer, i) => ReadOneAsync(consumer, buffers[i], latencies, i))];
            long deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
            while (counters.Parks < Rings) // each read parks at once (no spin), and counts its park first
            {
                Thread.Yield();
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"{counters.Parks} of {Rings} reads parked within 30 s");
                }
            }
            say(string.Create(CultureInfo.InvariantCulture, $"parked {Threads() - before}"));
            if (!Task.WaitAll(reads, TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException($"{reads.Count(r => !r.IsCompleted)} of {Rings} reads still pending after 60 s");
            }
            var histogram = new LongHistogram(TimeStamp.Seconds(60), 3);
            foreach (long latency in latencies)
            {
                histogram.RecordValue(latency);
            }
            say(string.Create(CultureInfo.InvariantCulture,
                $"woke {histogram.GetValueAtPercentile(50)} {histogram.GetValueAtPercentile(99)} {histogram.GetValueAtPercentile(99.9)} {histogram.GetMaxValue()}"));
        }
        finally
        {
            foreach (RingConsumer consumer in consumers)
            {
                consumer.Dispose();
            }
        }
    }

    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true) => throw new NotSupportedException("the scale scenario measures itself");

    public int Receive(Span<byte> buffer) => throw new NotSupportedException("the scale scenario measures itself");

    public void Dispose()
    {
        foreach (SharedRing ring in _rings)
        {
            ring.Dispose();
        }
    }

    private static async Task ReadOneAsync(RingConsumer consumer, byte[] buffer, long[] latencies, int i)
    {
        consumer.SpinBeforeParking = TimeSpan.Zero;
        await consumer.ReadAsync(buffer).ConfigureAwait(false);
        long woke = Stopwatch.GetTimestamp();
        latencies[i] = (woke - BinaryPrimitives.ReadInt64LittleEndian(buffer)) * 1_000_000_000 / Stopwatch.Frequency;
    }

    private static int Threads() => Directory.GetDirectories("/proc/self/task").Length;
}
