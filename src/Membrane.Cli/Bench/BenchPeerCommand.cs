using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Errors;

namespace Membrane.Cli.Bench;

/// <summary>
/// The second process of <c>membrane bench</c> (hidden): joins the transport the bench prepared, says "ready", runs
/// its side of the scenario, says "done" with the parks and wakes it counted (or "error ..." and exits 1).
/// </summary>
internal static class BenchPeerCommand
{
    internal const string Name = "bench-peer";

    /// <summary>
    /// The mode of a fan-in producer: the transport argument is the kind, the endpoint the producer count, this
    /// producer's number, the budget in seconds, then what the kind joins.
    /// </summary>
    internal const string FanInMode = "fan-in";

    internal static Command Create()
    {
        var transport = new Argument<string>("transport");
        var mode = new Argument<string>("mode");
        var size = new Argument<int>("size");
        var endpoint = new Argument<string[]>("endpoint") { Arity = ArgumentArity.OneOrMore };
        var command = new Command(Name, "The bench's peer process.") { transport, mode, size, endpoint };
        command.Hidden = true;
        command.SetAction(parse => Run(parse.GetRequiredValue(transport), parse.GetRequiredValue(mode), parse.GetValue(size), parse.GetRequiredValue(endpoint)));
        return command;
    }

    private static int Run(string transportName, string mode, int size, string[] endpoint)
    {
        // A Ctrl-C at the terminal reaches the whole process group. The bench finishes the measurement in progress with
        // this peer, then stops it and removes the segments (see BenchCommand); a peer that died of it at once would leave
        // the bench waiting for a dead partner until a timeout.
        using var ignoreInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        try
        {
            if (mode == FanInMode)
            {
                return Produce(transportName, size, endpoint);
            }
            var transport = BenchTransport.Find(transportName) as PairTransport ?? throw new ArgumentException($"no transport {transportName}");
            using var counters = new WaitCounters();
            using IBenchLink link = transport.Join(endpoint, size);
            Say("ready");
            if (link is ISelfTimedLink selfTimed)
            {
                selfTimed.Serve(Say);
            }
            else if (link is IAsyncBenchLink asynchronous)
            {
                Scenarios.EchoAsync(asynchronous, size);
            }
            else if (mode == BenchResult.LatencyMode)
            {
                Scenarios.Echo(link, size);
            }
            else
            {
                Scenarios.Drain(link, size);
            }
            Say(string.Create(CultureInfo.InvariantCulture, $"done {counters.Parks} {counters.Wakes}"));
            return ExitCodes.Success;
        }
        catch (Exception e) when (e is MembraneException or IOException or InvalidDataException or TimeoutException or ArgumentException or System.Net.Sockets.SocketException)
        {
            Say(string.Create(CultureInfo.InvariantCulture, $"error {e.GetType().Name}: {e.Message}"));
            return ExitCodes.Failed;
        }
    }

    /// <summary>A fan-in producer: joins, says "ready", waits for "go" on stdin, sends (<see cref="FanInScenario.Send"/>), says "done".</summary>
    private static int Produce(string kind, int size, string[] endpoint)
    {
        int producers = int.Parse(endpoint[0], CultureInfo.InvariantCulture);
        int producer = int.Parse(endpoint[1], CultureInfo.InvariantCulture);
        var budget = TimeSpan.FromSeconds(double.Parse(endpoint[2], CultureInfo.InvariantCulture));
        using var counters = new WaitCounters();
        using IFanInSender sender = FanInTransport.Of(kind, producers).Join(endpoint[3..], size);
        Say("ready");
        if (Console.In.ReadLine() != "go")
        {
            throw new InvalidDataException("the bench did not say go");
        }
        FanInScenario.Send(sender, producer, size, budget);
        Say(string.Create(CultureInfo.InvariantCulture, $"done {counters.Parks} {counters.Wakes}"));
        return ExitCodes.Success;
    }

    private static void Say(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }
}
