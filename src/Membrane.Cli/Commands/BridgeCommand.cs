using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Membrane.Journals;
using Membrane.Nats;
using NATS.Client.Core;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane bridge out|in</c>: carries a journal to other hosts over NATS JetStream (<see cref="OutBridge"/>,
/// <see cref="InBridge"/>), until SIGINT/SIGTERM; a progress line on a terminal, a summary on exit.
/// </summary>
internal static class BridgeCommand
{
    internal static Command Create()
    {
        var bridge = new Command("bridge", "Carry a journal across hosts over NATS JetStream: 'out' publishes a local journal, 'in' appends a stream to a local journal.");
        bridge.Subcommands.Add(CreateOut());
        bridge.Subcommands.Add(CreateIn());
        bridge.Subcommands.Add(BridgeBenchCommand.Create());
        return bridge;
    }

    private static (Option<string> Nats, Option<string> Stream, Option<string?> Subject) Common()
    {
        var nats = new Option<string>("--nats") { Description = "The NATS server's URL (nats://host:port).", Required = true };
        var stream = new Option<string>("--stream") { Description = "The JetStream stream (created with file storage if missing).", Required = true };
        var subject = new Option<string?>("--subject") { Description = "The subject entries travel on (default membrane.STREAM)." };
        return (nats, stream, subject);
    }

    private static Command CreateOut()
    {
        var journal = new Option<string>("--journal") { Description = "The local journal to publish (it must exist).", Required = true };
        (Option<string> nats, Option<string> stream, Option<string?> subject) = Common();
        var inFlight = new Option<int>("--in-flight") { Description = "Publications awaiting acknowledgement at most.", DefaultValueFactory = _ => 1024 };
        var command = new Command("out", "Follow a local journal (cursor bridge:STREAM) and publish every entry to a JetStream stream, until SIGINT/SIGTERM.")
        {
            journal, nats, stream, subject, inFlight,
        };
        command.SetAction(parse => CliOutput.Run(json: false, () =>
        {
            var options = new OutBridgeOptions
            {
                Journal = parse.GetRequiredValue(journal), Stream = parse.GetRequiredValue(stream), Subject = parse.GetValue(subject), MaxInFlight = parse.GetValue(inFlight),
            };
            return RunAsync(parse.GetRequiredValue(nats), "out", connection =>
            {
                var bridge = new OutBridge(connection, options);
                return (bridge.RunAsync, () => bridge.Status, $"journal {options.Journal} -> stream {options.Stream}");
            }).GetAwaiter().GetResult();
        }));
        return command;
    }

    private static Command CreateIn()
    {
        (Option<string> nats, Option<string> stream, Option<string?> subject) = Common();
        var journal = new Option<string>("--journal") { Description = "The local journal to append to (created if missing).", Required = true };
        var consumer = new Option<string?>("--consumer") { Description = "The durable consumer's name (default membrane-in-JOURNAL)." };
        var capacity = new Option<long>("--capacity") { Description = "Slots in the ring when creating the journal (a power of two).", DefaultValueFactory = _ => 1 << 16 };
        var slotSize = new Option<int>("--slot-size") { Description = "The largest entry in bytes when creating the journal.", DefaultValueFactory = _ => 64 };
        var readers = new Option<int>("--readers") { Description = "Reader cursors when creating the journal (1 to 1024).", DefaultValueFactory = _ => 8 };
        var ackWait = new Option<double>("--ack-wait") { Description = "Seconds the server waits for an acknowledgement before it delivers again (at least 1).", DefaultValueFactory = _ => 30 };
        var command = new Command("in", "Consume a JetStream stream (a durable consumer) and append every entry to a local journal under its own sequence, until SIGINT/SIGTERM.")
        {
            nats, stream, subject, journal, consumer, capacity, slotSize, readers, ackWait,
        };
        command.SetAction(parse => CliOutput.Run(json: false, () =>
        {
            var options = new InBridgeOptions
            {
                Stream = parse.GetRequiredValue(stream), Subject = parse.GetValue(subject), Journal = parse.GetRequiredValue(journal), Consumer = parse.GetValue(consumer),
                NewJournal = new JournalOptions { Capacity = parse.GetValue(capacity), SlotSize = parse.GetValue(slotSize), Cursors = parse.GetValue(readers) },
                AckWait = TimeSpan.FromSeconds(parse.GetValue(ackWait)),
            };
            return RunAsync(parse.GetRequiredValue(nats), "in", connection =>
            {
                var bridge = new InBridge(connection, options);
                return (bridge.RunAsync, () => bridge.Status, $"stream {options.Stream} -> journal {options.Journal}");
            }).GetAwaiter().GetResult();
        }));
        return command;
    }

    private static async Task<int> RunAsync(
        string url, string direction, Func<NatsConnection, (Func<CancellationToken, Task> Run, Func<BridgeStatus> Status, string What)> create)
    {
        using var stop = new StopSignal();
        await using var connection = new NatsConnection(new NatsOpts
        {
            Url = url,
            Name = $"membrane bridge {direction}",
            // Reconnect for ever, soon after the server is back: the bridge resumes from what the stream or journal holds.
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(100),
            ReconnectWaitMax = TimeSpan.FromSeconds(1),
            // A publication or request lost in a restart fails after this, and the bridge resumes from the stream.
            RequestTimeout = TimeSpan.FromSeconds(3),
        });
        (Func<CancellationToken, Task> run, Func<BridgeStatus> status, string what) = create(connection);
        var clock = Stopwatch.StartNew();
        Task running = run(stop.Token);
        bool terminal = !Console.IsOutputRedirected;
        long lastEntries = 0;
        double lastSeconds = 0;
        while (await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false) != running)
        {
            if (terminal)
            {
                BridgeStatus now = status();
                double seconds = clock.Elapsed.TotalSeconds;
                double rate = (now.Entries - lastEntries) / Math.Max(0.001, seconds - lastSeconds);
                (lastEntries, lastSeconds) = (now.Entries, seconds);
                Console.Out.Write(string.Create(CultureInfo.InvariantCulture,
                    $"\rbridge {direction} {what}: {now.Entries:N0} entries, {rate:N0}/s, lag {now.Lag:N0}, next {now.NextSequence:N0}{(now.Resyncs > 0 ? $", {now.Resyncs} resyncs" : "")}   "));
            }
        }
        if (terminal)
        {
            Console.Out.WriteLine();
        }
        await running.ConfigureAwait(false); // a failure surfaces here, as its message and exit code 1
        BridgeStatus end = status();
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bridge {direction} {what}: carried {end.Entries} entries in {clock.Elapsed.TotalSeconds:0.0} s, {end.Gaps} gap sequences, {end.Duplicates} duplicates dropped, {end.Resyncs} resyncs; next sequence {end.NextSequence}"));
        return ExitCodes.Success;
    }
}
