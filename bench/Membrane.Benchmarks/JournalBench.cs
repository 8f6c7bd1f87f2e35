using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using HdrHistogram;
using Membrane.Benchmarks.Harness;
using Membrane.Diagnostics;
using Membrane.Journals;

namespace Membrane.Benchmarks;

/// <summary>
/// The journal across real processes: append throughput with 0, 1 and 4 reader processes following, and
/// writer-to-reader latency (spinning and parked) beside a Unix domain socket measured in the same run.
/// <c>dotnet run -c Release --project bench/Membrane.Benchmarks -- journal [seconds-per-round] [rounds]</c>.
/// Latency is one-way: the writer stamps each entry with the monotonic clock, which every process on the host shares.
/// </summary>
internal static class JournalBench
{
    private const int EntrySize = 64;
    private const long Capacity = 1 << 16;
    private const int LatencySamples = 5_000;
    private const int LatencyWarmup = 2_500; // half a second: past tiered JIT's recompilation of the hot loop
    private static readonly TimeSpan s_latencyPace = TimeSpan.FromMicroseconds(500); // longer than a reader's spin ever grows (200 µs), so it parks

    internal static int Run(string[] args)
    {
        switch (args)
        {
            case ["journal-follow", var name, var cursor]:
                return Follow(name, int.Parse(cursor, CultureInfo.InvariantCulture));
            case ["journal-latency", var name, var mode]:
                return JournalLatencyReader(name, parked: mode == "parked");
            case ["socket-latency", var path]:
                return SocketLatencyReader(path);
        }
        double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        Console.WriteLine($"Journal, {EntrySize}-byte entries, {Capacity} slots; {Environment.ProcessorCount} cores; {rounds} rounds of {seconds} s, medians.");
        Console.WriteLine();
        Console.WriteLine("| policy | readers | appends/s (median) | min | max | each reader delivered/s | lost by readers |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (OverrunPolicy policy in new[] { OverrunPolicy.Overwrite, OverrunPolicy.Block })
        {
            foreach (int readers in new[] { 0, 1, 4 })
            {
                var results = Enumerable.Range(0, rounds).Select(_ => Throughput(policy, readers, seconds)).ToList();
                double median = Statistics.Median(results.Select(r => r.AppendsPerSecond));
                string delivered = readers == 0 ? "-" : $"{Statistics.Median(results.Select(r => r.DeliveredPerSecond)):N0}";
                string lost = readers == 0 ? "-" : $"{results.Sum(r => r.Lost) / (double)(results.Sum(r => r.Appended) * readers):P1}";
                Console.WriteLine($"| {policy} | {readers} | {median:N0} | {results.Min(r => r.AppendsPerSecond):N0} | {results.Max(r => r.AppendsPerSecond):N0} | {delivered} | {lost} |");
            }
        }
        Console.WriteLine();
        Console.WriteLine($"One-way latency, one entry every {s_latencyPace.TotalMicroseconds} µs, {LatencySamples:N0} samples after {LatencyWarmup:N0} warm-up (ns):");
        Console.WriteLine();
        Console.WriteLine("| transport | p50 | p99 | p99.9 | max | reader parks | p50 vs Unix socket |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Latency socket = SocketLatency();
        foreach ((string label, Latency latency) in new[]
        {
            ("Unix domain socket (baseline)", socket),
            ("journal, reader spinning", JournalLatency("spinning")),
            ("journal, reader parked (futex)", JournalLatency("parked")),
        })
        {
            Console.WriteLine($"| {label} | {latency.P50:N0} | {latency.P99:N0} | {latency.P999:N0} | {latency.Max:N0} | {latency.Parks:N0} | {socket.P50 / (double)latency.P50:0.0}x faster |");
        }
        return 0;
    }

    private sealed record ThroughputResult(double AppendsPerSecond, long Appended, double DeliveredPerSecond, long Lost);

    private sealed record Latency(long P50, long P99, long P999, long Max, long Parks)
    {
        internal static Latency Parse(string line)
        {
            long[] values = [.. line.Split(' ').Select(v => long.Parse(v, CultureInfo.InvariantCulture))];
            return new Latency(values[0], values[1], values[2], values[3], values[4]);
        }

        internal static string Format(LongHistogram histogram, long parks) => string.Join(' ',
            histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99), histogram.GetValueAtPercentile(99.9), histogram.GetMaxValue(), parks);
    }

    private static string NewName(string purpose) => string.Create(CultureInfo.InvariantCulture, $"membrane-bench-{purpose}-{Environment.ProcessId}");

    private static ThroughputResult Throughput(OverrunPolicy policy, int readers, double seconds)
    {
        string name = NewName("journal");
        var journal = Journal.Create(name, new JournalOptions { Capacity = Capacity, SlotSize = EntrySize, Cursors = 4, Policy = policy });
        var children = new List<ChildProcess>();
        try
        {
            for (int id = 0; id < readers; id++)
            {
                children.Add(ChildProcess.Start("journal-follow", name, id.ToString(CultureInfo.InvariantCulture)));
            }
            using JournalWriter writer = journal.CreateWriter();
            Span<byte> entry = stackalloc byte[EntrySize];
            children.ForEach(c => c.Send("go"));
            var clock = Stopwatch.StartNew();
            long end = (long)(seconds * Stopwatch.Frequency);
            long appended = 0;
            while (clock.ElapsedTicks < end)
            {
                for (int i = 0; i < 1024; i++)
                {
                    MemoryMarshal.Write(entry, appended + i);
                    writer.Append(entry);
                }
                appended += 1024;
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            children.ForEach(c => c.Send("stop"));
            var answers = children.Select(c => c.Result().Split(' ').Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
            foreach (long[] answer in answers)
            {
                if (answer[0] + answer[1] > appended)
                {
                    throw new InvalidOperationException($"a reader accounted for {answer[0] + answer[1]} entries of {appended}");
                }
            }
            double delivered = answers.Count == 0 ? 0 : Statistics.Median(answers.Select(a => a[0] / elapsed));
            return new ThroughputResult(appended / elapsed, appended, delivered, answers.Sum(a => a[1]));
        }
        finally
        {
            children.ForEach(c => c.Dispose());
            journal.Dispose();
            Segments.SharedSegment.Remove(name);
        }
    }

    /// <summary>Child: follows cursor <paramref name="cursor"/> from the newest entry, spinning, until "stop"; answers "delivered lost".</summary>
    private static int Follow(string name, int cursor)
    {
        using var journal = Journal.Open(name);
        using JournalReader reader = journal.OpenReader(cursor, StartPosition.Newest);
        reader.Commit();
        ChildProcess.ReadyThenWaitForGo();
        var stop = Task.Run(Console.In.ReadLine);
        Span<byte> entry = stackalloc byte[EntrySize];
        long delivered = 0, lost = 0, expected = reader.Position;
        while (!stop.IsCompleted)
        {
            for (int i = 0; i < 4096; i++)
            {
                if (reader.TryRead(entry, out JournalRecord record))
                {
                    if (MemoryMarshal.Read<long>(entry) != record.Sequence || record.Sequence != expected + record.LostBefore)
                    {
                        throw new InvalidOperationException($"entry {record.Sequence} is not the one written");
                    }
                    expected = record.Sequence + 1;
                    delivered++;
                    lost += record.LostBefore;
                }
            }
            reader.Commit();
        }
        ChildProcess.Answer(string.Create(CultureInfo.InvariantCulture, $"{delivered} {lost}"));
        return 0;
    }

    private static Latency JournalLatency(string mode)
    {
        string name = NewName("journal-latency");
        var journal = Journal.Create(name, new JournalOptions { Capacity = Capacity, SlotSize = EntrySize, Cursors = 1 });
        try
        {
            using var child = ChildProcess.Start("journal-latency", name, mode);
            using JournalWriter writer = journal.CreateWriter();
            child.Send("go");
            byte[] entry = new byte[EntrySize];
            Pace(() =>
            {
                MemoryMarshal.Write(entry, Stopwatch.GetTimestamp());
                writer.Append(entry);
            });
            return Latency.Parse(child.Result());
        }
        finally
        {
            journal.Dispose();
            Segments.SharedSegment.Remove(name);
        }
    }

    /// <summary>Sends warm-up plus samples, one per pace interval (busy-waiting the interval: sleeping is too coarse).</summary>
    private static void Pace(Action send)
    {
        long interval = (long)(s_latencyPace.TotalSeconds * Stopwatch.Frequency);
        long next = Stopwatch.GetTimestamp();
        for (int i = 0; i < LatencyWarmup + LatencySamples; i++)
        {
            next += interval;
            while (Stopwatch.GetTimestamp() < next)
            {
                Thread.SpinWait(20);
            }
            send();
        }
    }

    private static long ElapsedNanoseconds(long since) => (Stopwatch.GetTimestamp() - since) * 1_000_000_000 / Stopwatch.Frequency;

    private static int JournalLatencyReader(string name, bool parked)
    {
        using var journal = Journal.Open(name);
        using JournalReader reader = journal.OpenReader(0, StartPosition.Newest);
        long parks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MembraneMetrics.MeterName && instrument.Name == "membrane.parks")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => parks += value);
        listener.Start();
        LongHistogram histogram = RecordLatencies(entry =>
        {
            if (parked)
            {
                reader.Read(entry);
                return;
            }
            while (!reader.TryRead(entry, out _))
            {
            }
        });
        ChildProcess.Answer(Latency.Format(histogram, parks));
        return 0;
    }

    private static Latency SocketLatency()
    {
        using var server = new UnixSocketServer("socket-latency");
        using var child = ChildProcess.Start("socket-latency", server.Path);
        using Socket connection = server.Accept();
        child.Send("go");
        byte[] message = new byte[EntrySize];
        Pace(() =>
        {
            MemoryMarshal.Write(message, Stopwatch.GetTimestamp());
            connection.Send(message);
        });
        return Latency.Parse(child.Result());
    }

    private static int SocketLatencyReader(string path)
    {
        using Socket socket = UnixSocketServer.Connect(path);
        LongHistogram histogram = RecordLatencies(message =>
        {
            if (!UnixSocketServer.ReceiveExactly(socket, message))
            {
                throw new InvalidOperationException("the writer closed the socket early");
            }
        });
        ChildProcess.Answer(Latency.Format(histogram, 0));
        return 0;
    }

    /// <summary>
    /// In the reader process: says ready, waits for go, then receives warm-up plus samples, each stamped by the
    /// writer with the monotonic clock, and records the one-way latency of every sample.
    /// </summary>
    private static LongHistogram RecordLatencies(Action<byte[]> receive)
    {
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        ChildProcess.ReadyThenWaitForGo();
        byte[] entry = new byte[EntrySize];
        for (int i = 0; i < LatencyWarmup + LatencySamples; i++)
        {
            receive(entry);
            long latency = ElapsedNanoseconds(MemoryMarshal.Read<long>(entry));
            if (i >= LatencyWarmup)
            {
                histogram.RecordValue(latency);
            }
        }
        return histogram;
    }
}
