using System.Globalization;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Nats;

/// <summary>
/// <c>membrane bridge out</c> and <c>in</c> carrying a journal through a real <c>nats-server</c>, in child processes
/// killed with SIGKILL, and through a server restart: the far journal's reporter writes what the near one's writes.
/// </summary>
public sealed class BridgeTests : IDisposable
{
    private const int Count = 100_000;
    private static int s_streams;
    private readonly TestSegments _segments = new();
    private readonly NatsServer _server;

    public BridgeTests() => _server = NatsServer.Start(_segments);

    public void Dispose()
    {
        _server.Dispose();
        _segments.Dispose();
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    public enum Fault
    {
        OutBridgeKilled,
        InBridgeKilled,
        ServerRestarted,
    }

    [Theory]
    [InlineData(Fault.OutBridgeKilled)]
    [InlineData(Fault.InBridgeKilled)]
    [InlineData(Fault.ServerRestarted)]
    public void A_hundred_thousand_entries_reach_the_far_reporter_exactly_once_in_order(Fault fault)
    {
        string near = _segments.NewName("bridge-near"), far = _segments.NewName("bridge-far");
        string stream = "t" + Text(Environment.ProcessId) + "-" + Text(Interlocked.Increment(ref s_streams));
        string directory = _segments.NewDirectory("bridge-csv");
        string nearCsv = Path.Combine(directory, "near.csv"), farCsv = Path.Combine(directory, "far.csv");
        // Both journals hold every entry, so that a reporter started late loses none (the bridges are not what is tested there).
        foreach (string journal in new[] { near, far })
        {
            (int created, _, string errors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--capacity", Text(1 << 17));
            Assert.True(created == 0, errors);
        }
        string[] outArguments = ["bridge", "out", "--journal", near, "--nats", _server.Url, "--stream", stream];
        string[] inArguments = ["bridge", "in", "--nats", _server.Url, "--stream", stream, "--journal", far];
        using var reporter = Peer.Cli("reporter", "--journal", far, "--id", "0", "--out", farCsv);
        using var nearJournal = Membrane.Journals.Journal.Open(near);
        using var farJournal = Membrane.Journals.Journal.Open(far);
        var outBridge = Peer.Cli(outArguments);
        var inBridge = Peer.Cli(inArguments);
        try
        {
            using (var writer = Peer.Cli("writer", "--journal", near, "--count", Text(Count)))
            {
                // Five faults, each once the far journal has moved on since the last: mid-stream, whatever the speeds.
                for (int fault_ = 1; fault_ <= (fault == Fault.ServerRestarted ? 1 : 5); fault_++)
                {
                    long reached = Count * fault_ / 7;
                    Eventually.Holds(() => farJournal.WritePosition >= reached, $"the far journal reaching {reached} (fault {fault_}); now {farJournal.WritePosition}", seconds: 90);
                    switch (fault)
                    {
                        case Fault.OutBridgeKilled:
                            outBridge.KillHard();
                            outBridge.Dispose();
                            outBridge = Peer.Cli(outArguments);
                            break;
                        case Fault.InBridgeKilled:
                            inBridge.KillHard();
                            inBridge.Dispose();
                            inBridge = Peer.Cli(inArguments);
                            break;
                        case Fault.ServerRestarted:
                            _server.Restart();
                            break;
                    }
                }
                Assert.Equal(0, writer.WaitForExit());
            }
            Eventually.Holds(() => farJournal.WritePosition == Count, $"the far journal holding all {Count}; now {farJournal.WritePosition}", seconds: 120);
            Eventually.Holds(() => farJournal.Cursors()[0].CommittedPosition == Count, "the far reporter committing every entry", seconds: 60);
            foreach (Peer bridge in new[] { outBridge, inBridge })
            {
                bridge.Terminate();
                (int exit, string said) = bridge.ReadToExit();
                Assert.True(exit == 0, $"exit {exit}: {said} {bridge.Stderr}");
                Assert.Contains($"next sequence {Text(Count)}", said, StringComparison.Ordinal);
            }
            reporter.Terminate();
            Assert.True(reporter.ReadToExit().ExitCode == 0, reporter.Stderr);
        }
        finally
        {
            outBridge.Dispose();
            inBridge.Dispose();
        }
        Assert.Equal(Count, farJournal.WritePosition); // nothing more arrived: no duplicate was appended

        (int replayed, _, string replayErrors) = Peer.RunCli("reporter", "--journal", near, "--id", "1", "--out", nearCsv, "--until-idle", "0.2");
        Assert.True(replayed == 0, replayErrors);
        string[] farLines = File.ReadAllLines(farCsv);
        Assert.Equal(Count + 1, farLines.Length);
        for (int row = 1; row <= Count; row++)
        {
            Assert.StartsWith(Text(row - 1) + ",", farLines[row], StringComparison.Ordinal);
        }
        Assert.Equal(File.ReadAllLines(nearCsv), farLines); // the same symbol, price and quantity (and timestamp) for every sequence
    }

    [Fact]
    public void A_near_reader_lapped_between_runs_reaches_the_far_reporter_as_the_same_lost_line()
    {
        string near = _segments.NewName("bridge-lapped-near"), far = _segments.NewName("bridge-lapped-far");
        string stream = "t" + Text(Environment.ProcessId) + "-" + Text(Interlocked.Increment(ref s_streams));
        string directory = _segments.NewDirectory("bridge-lapped-csv");
        string nearCsv = Path.Combine(directory, "near.csv"), farCsv = Path.Combine(directory, "far.csv");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", near, "--count", "1000", "--capacity", "1024").ExitCode);
        string[] outArguments = ["bridge", "out", "--journal", near, "--nats", _server.Url, "--stream", stream];
        using var nearJournal = Membrane.Journals.Journal.Open(near);
        void FollowUntil(long position)
        {
            using var bridge = Peer.Cli(outArguments);
            using var reporter = Peer.Cli("reporter", "--journal", near, "--id", "7", "--out", nearCsv);
            Eventually.Holds(() => nearJournal.Cursors() is var cursors && cursors[7].CommittedPosition >= position
                && cursors.Any(c => c.Name == $"bridge:{stream}" && c.OwnerAlive && c.CommittedPosition >= position), $"the bridge and the near reporter at {position}");
            foreach (Peer peer in new[] { bridge, reporter })
            {
                peer.Terminate();
                (int exit, string said) = peer.ReadToExit();
                Assert.True(exit == 0, $"exit {exit}: {said} {peer.Stderr}");
            }
        }
        FollowUntil(1000);
        // Both are away while 5,000 entries pass through a ring of 1,024: each loses the same 3,976 when it comes back.
        Assert.Equal(0, Peer.RunCli("writer", "--journal", near, "--count", "5000").ExitCode);
        FollowUntil(6000);

        using (var inBridge = Peer.Cli("bridge", "in", "--nats", _server.Url, "--stream", stream, "--journal", far, "--capacity", "8192"))
        {
            Eventually.Holds(() => File.Exists(TestSegments.ShmPath(far)), "the in bridge creating the far journal");
            using var farJournal = Membrane.Journals.Journal.Open(far);
            Eventually.Holds(() => farJournal.WritePosition == 6000, "the far journal reaching 6000");
            inBridge.Terminate();
            Assert.Equal(0, inBridge.ReadToExit().ExitCode);
        }
        (int reported, _, string errors) = Peer.RunCli("reporter", "--journal", far, "--id", "0", "--out", farCsv, "--until-idle", "0.2");
        Assert.True(reported == 0, errors);
        string[] nearLines = File.ReadAllLines(nearCsv);
        Assert.Contains("# lost 3976 (sequences 1000..4975)", nearLines);
        Assert.Equal(nearLines, File.ReadAllLines(farCsv));
    }

    [Fact]
    public void A_bridge_exits_1_naming_the_server_it_cannot_reach_and_refuses_a_far_journal_of_many_writers()
    {
        string near = _segments.NewName("bridge-unreachable");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", near, "--count", "0").ExitCode);
        (int exit, _, string said) = Peer.RunCli("bridge", "out", "--journal", near, "--nats", "nats://127.0.0.1:1", "--stream", "unreachable");
        Assert.Equal(1, exit);
        Assert.Contains("nats://127.0.0.1:1 could not be reached", said, StringComparison.Ordinal);

        string many = _segments.NewName("bridge-many");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", many, "--count", "0", "--writers", "many").ExitCode);
        (exit, _, said) = Peer.RunCli("bridge", "in", "--nats", _server.Url, "--stream", "many", "--journal", many);
        Assert.Equal(1, exit);
        Assert.Contains("Expected: a journal with one writer. Found: a journal with many writers.", said, StringComparison.Ordinal);

        (exit, _, said) = Peer.RunCli("bridge", "out", "--journal", near, "--nats", _server.Url, "--stream", "no.dots");
        Assert.Equal(2, exit);
        Assert.Contains("stream name is 1 to 25 ASCII letters", said, StringComparison.Ordinal);
    }
}
