using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Membrane.Journals;
using Membrane.Nats;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane bridge bench</c>: the bridges' throughput beside JetStream's own pipelined publish rate, measured in the
/// same run against the same server, and the end-to-end latency of a journal entry from a near writer to a far reader.
/// Streams and journals it makes are its own (unique names) and removed afterwards.
/// </summary>
internal static class BridgeBenchCommand
{
    private const int Window = 1024;

    internal static Command Create()
    {
        var nats = new Option<string>("--nats") { Description = "The NATS server's URL (a JetStream server, nats://host:port).", Required = true };
        var count = new Option<int>("--count") { Description = "Entries per throughput measurement.", DefaultValueFactory = _ => 200_000 };
        var repeat = new Option<int>("--repeat") { Description = "Runs of the whole set; each figure is the median of the runs.", DefaultValueFactory = _ => 3 };
        var rate = new Option<int>("--rate") { Description = "Entries per second in the latency measurement.", DefaultValueFactory = _ => 2_000 };
        var seconds = new Option<double>("--seconds") { Description = "Length of the latency measurement.", DefaultValueFactory = _ => 5 };
        var command = new Command("bench", "Measure the bridges' throughput beside JetStream's own publish rate, and end-to-end latency through the server.")
        {
            nats, count, repeat, rate, seconds,
        };
        command.SetAction(parse => CliOutput.Run(json: false, () => RunAsync(
            parse.GetRequiredValue(nats), parse.GetValue(count), Math.Max(1, parse.GetValue(repeat)), parse.GetValue(rate), parse.GetValue(seconds)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(string url, int count, int repeat, int rate, double seconds)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = url, Name = "membrane bridge bench" });
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (NatsException e)
        {
            throw new BridgeException($"The NATS server at {url} could not be reached: {e.Message}", expected: "a JetStream server", found: e.GetType().Name, innerException: e);
        }
        var js = new NatsJSContext(connection);
        var publish = new List<double>();
        var outRates = new List<double>();
        var inRates = new List<double>();
        var p50 = new List<double>();
        var p99 = new List<double>();
        // A warm-up pass, not counted: the first run otherwise measures the JIT and the server's first file allocations.
        string warmUp = string.Create(CultureInfo.InvariantCulture, $"mb{Environment.ProcessId}x0");
        await PublishRateAsync(js, warmUp + "p", Math.Max(1, count / 10)).ConfigureAwait(false);
        await BridgeRatesAsync(connection, js, warmUp, Math.Max(1, count / 10)).ConfigureAwait(false);
        for (int run = 1; run <= repeat; run++)
        {
            string tag = string.Create(CultureInfo.InvariantCulture, $"mb{Environment.ProcessId}x{run}");
            publish.Add(await PublishRateAsync(js, tag + "p", count).ConfigureAwait(false));
            (double outRate, double inRate) = await BridgeRatesAsync(connection, js, tag, count).ConfigureAwait(false);
            outRates.Add(outRate);
            inRates.Add(inRate);
            (double median, double tail) = await LatencyAsync(connection, js, tag + "l", rate, seconds).ConfigureAwait(false);
            p50.Add(median);
            p99.Add(tail);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {run}: JetStream publish {publish[^1]:N0}/s, bridge out {outRate:N0}/s ({outRate / publish[^1]:0.00}x), bridge in {inRate:N0}/s ({inRate / publish[^1]:0.00}x), end to end p50 {median:0} us, p99 {tail:0} us"));
        }
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median of {repeat}: JetStream publish {Median(publish):N0}/s ({Spread(publish)}), bridge out {Median(outRates):N0}/s ({Spread(outRates)}; {Median(outRates.Zip(publish, (o, p) => o / p)):0.00}x publish), bridge in {Median(inRates):N0}/s ({Spread(inRates)}; {Median(inRates.Zip(publish, (i, p) => i / p)):0.00}x publish), end to end p50 {Median(p50):0} us ({Spread(p50)}), p99 {Median(p99):0} us ({Spread(p99)})"));
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"({count:N0} entries of 64 bytes per throughput figure, after an uncounted warm-up pass of a tenth of that, {Window} publications in flight; latency: {rate:N0} entries/s for {seconds:0.#} s, from the near writer's append to the far reader's read, both journals on this host)"));
        return ExitCodes.Success;
    }

    /// <summary>JetStream's own rate: 64-byte messages published pipelined (as the bridge does, ids and expected last ids), acknowledged in order.</summary>
    private static async Task<double> PublishRateAsync(NatsJSContext js, string stream, int count)
    {
        string subject = "membrane." + stream;
        await js.CreateStreamAsync(new StreamConfig(stream, [subject]) { Storage = StreamConfigStorage.File }).ConfigureAwait(false);
        try
        {
            var inFlight = new Queue<ValueTask<PubAckResponse>>();
            byte[] payload = new byte[64];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                var options = new NatsJSPubOpts { MsgId = $"p:{i}", ExpectedLastMsgId = i == 0 ? null : $"p:{i - 1}" };
                ValueTask<PubAckResponse> ack = js.PublishAsync(subject, payload, opts: options, headers: new NatsHeaders { ["Membrane-Sequence"] = i.ToString(CultureInfo.InvariantCulture) });
                inFlight.Enqueue(ack);
                if (inFlight.Count >= Window)
                {
                    (await inFlight.Dequeue().ConfigureAwait(false)).EnsureSuccess();
                }
            }
            while (inFlight.Count > 0)
            {
                (await inFlight.Dequeue().ConfigureAwait(false)).EnsureSuccess();
            }
            return count / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            await js.DeleteStreamAsync(stream).ConfigureAwait(false);
        }
    }

    /// <summary>The out bridge over a journal already holding <paramref name="count"/> entries, then the in bridge over the stream it filled.</summary>
    private static async Task<(double Out, double In)> BridgeRatesAsync(NatsConnection connection, NatsJSContext js, string tag, int count)
    {
        string near = tag + "-near", far = tag + "-far", stream = tag + "t";
        var journalOptions = new JournalOptions { Capacity = NextPowerOfTwo(count), SlotSize = 64, Cursors = 2 };
        try
        {
            using (Journal journal = Journal.Create(near, journalOptions))
            using (JournalWriter writer = journal.CreateWriter())
            {
                byte[] entry = new byte[64];
                for (int i = 0; i < count; i++)
                {
                    writer.Append(entry);
                }
            }
            var outBridge = new OutBridge(connection, new OutBridgeOptions { Journal = near, Stream = stream });
            double outRate = await TimeUntilAsync(outBridge.RunAsync, () => outBridge.Status.NextSequence >= count, count).ConfigureAwait(false);
            var inBridge = new InBridge(connection, new InBridgeOptions { Journal = far, Stream = stream, NewJournal = journalOptions });
            double inRate = await TimeUntilAsync(inBridge.RunAsync, () => inBridge.Status.NextSequence >= count, count).ConfigureAwait(false);
            return (outRate, inRate);
        }
        finally
        {
            await js.DeleteStreamAsync(stream).ConfigureAwait(false);
            Remove(near);
            Remove(far);
        }
    }

    /// <summary>Entries per second from starting <paramref name="run"/> until <paramref name="done"/> holds; then stops it.</summary>
    private static async Task<double> TimeUntilAsync(Func<CancellationToken, Task> run, Func<bool> done, int count)
    {
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        Task running = run(stop.Token);
        while (!done())
        {
            if (running.IsCompleted)
            {
                await running.ConfigureAwait(false); // its failure, if any
                throw new BridgeException("A bridge stopped before it carried every entry.", expected: $"{count} entries");
            }
            await Task.Delay(1).ConfigureAwait(false);
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        await stop.CancelAsync().ConfigureAwait(false);
        await running.ConfigureAwait(false);
        return count / elapsed;
    }

    /// <summary>Both bridges running; entries appended at <paramref name="rate"/> carry their append time; the far reader records each one's age.</summary>
    private static async Task<(double P50, double P99)> LatencyAsync(NatsConnection connection, NatsJSContext js, string tag, int rate, double seconds)
    {
        string near = tag + "-near", far = tag + "-far", stream = tag + "t";
        int total = (int)(rate * seconds);
        var journalOptions = new JournalOptions { Capacity = NextPowerOfTwo(total + 1), SlotSize = 64, Cursors = 2 };
        using var stop = new CancellationTokenSource();
        try
        {
            using Journal nearJournal = Journal.Create(near, journalOptions);
            using Journal farJournal = Journal.Create(far, journalOptions);
            var outBridge = new OutBridge(connection, new OutBridgeOptions { Journal = near, Stream = stream });
            var inBridge = new InBridge(connection, new InBridgeOptions { Journal = far, Stream = stream });
            Task[] bridges = [outBridge.RunAsync(stop.Token), inBridge.RunAsync(stop.Token)];
            var histogram = new LongHistogram(TimeStamp.Seconds(60), 3);
            var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // The reader and the writer block: threads of their own, so that the bridges' continuations never wait for the pool.
            Task reading = Task.Factory.StartNew(() =>
            {
                using JournalReader reader = farJournal.OpenReader(0, StartPosition.Oldest);
                for (int received = -1; received < total;)
                {
                    if (reader.TryRead(out long appended, TimeSpan.FromSeconds(30), out _))
                    {
                        if (received++ < 0)
                        {
                            warm.SetResult(); // the first entry only warms the path up: the bridges have started and connected
                            continue;
                        }
                        histogram.RecordValue(Stopwatch.GetTimestamp() - appended);
                    }
                    else
                    {
                        throw new BridgeException("An entry did not reach the far journal within 30 s.", far, expected: $"{total} entries", found: $"{received}");
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            using (JournalWriter writer = nearJournal.CreateWriter())
            {
                writer.Append(Stopwatch.GetTimestamp());
                await warm.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                await Task.Factory.StartNew(() =>
                {
                    var clock = Stopwatch.StartNew();
                    for (int i = 0; i < total; i++)
                    {
                        while (clock.Elapsed.TotalSeconds < (double)i / rate)
                        {
                            Thread.Sleep(1);
                        }
                        writer.Append(Stopwatch.GetTimestamp());
                    }
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            await reading.ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(bridges).ConfigureAwait(false);
            double microseconds(double percentile) => histogram.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
            return (microseconds(50), microseconds(99));
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await js.DeleteStreamAsync(stream).ConfigureAwait(false);
            Remove(near);
            Remove(far);
        }
    }

    private static bool TryRead(this JournalReader reader, out long value, TimeSpan timeout, out JournalRecord record)
    {
        Span<byte> bytes = stackalloc byte[64];
        bool got = reader.TryRead(bytes, timeout, CancellationToken.None, out record);
        value = got ? BitConverter.ToInt64(bytes) : 0;
        return got;
    }

    private static void Remove(string name) => Membrane.Segments.SharedSegment.Remove(name);

    private static long NextPowerOfTwo(long value) => (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(2, value));

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Median(IEnumerable<double> values) => Median(values.ToList());

    private static string Spread(List<double> values) => string.Create(CultureInfo.InvariantCulture, $"{values.Min():N0}-{values.Max():N0}");
}
