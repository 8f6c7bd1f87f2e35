using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Cli;

/// <summary><c>membrane bench</c> end to end: every transport once, for one size; the files are checked, the figures are not.</summary>
public sealed class BenchCliTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Bench_quick_measures_every_transport_and_writes_well_formed_results()
    {
        string output = _segments.NewDirectory("bench");
        (int exitCode, string stdout, string stderr) = Peer.RunCli("bench", "--quick", "--sizes", "1k", "--seconds", "0.1", "--out", output);

        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "results.json")));
        JsonElement[] rows = [.. json.RootElement.EnumerateArray()];
        string[] transports = ["ring", "ring-parked", "ring-untrusted", "journal", "unix", "pipe", "tcp", "shm-floor"];
        string[] latencyOnly = ["futex-floor", "ring-async", "journal-parked", "journal-async", "queue"];
        string[] fanIn = ["queue×1", "queue×2", "journal×1", "journal×2", "unix×1", "unix×2"]; // throughput from 1 and 2 producer processes
        Assert.Equal((transports.Length * 2) + latencyOnly.Length + fanIn.Length + 1, rows.Length); // and the wake row of ring-async-1000
        JsonElement wake = rows.Single(r => r.GetProperty("mode").GetString() == "wake");
        Assert.Equal("ring-async-1000", wake.GetProperty("transport").GetString());
        Assert.True(wake.GetProperty("p50_ns").GetDouble() > 0 && wake.GetProperty("p99_ns").GetDouble() >= wake.GetProperty("p50_ns").GetDouble(), $"{wake}");
        Assert.InRange(wake.GetProperty("extra_threads_max").GetInt32(), 1, 8); // a thousand pending reads: the reactor's threads, at most 8
        JsonElement asyncRing = rows.Single(r => r.GetProperty("transport").GetString() == "ring-async");
        Assert.True(asyncRing.GetProperty("parks_per_message").GetDouble() > 0.5, $"an awaited ring that parks at once parked {asyncRing.GetProperty("parks_per_message")} times a round trip");
        rows = [.. rows.Where(r => r.GetProperty("mode").GetString() != "wake")];
        transports = [.. transports, .. latencyOnly, .. fanIn];
        foreach (JsonElement row in rows)
        {
            string transport = row.GetProperty("transport").GetString()!;
            Assert.Contains(transport, transports);
            Assert.Equal(1024, row.GetProperty("size").GetInt32());
            Assert.False(row.TryGetProperty("error", out _), $"{transport} failed");
            Assert.True(row.GetProperty("cores").GetInt32() > 0);
            string[] figures = row.GetProperty("mode").GetString() switch
            {
                "latency" => ["p50_ns", "p99_ns", "p999_ns", "max_ns"],
                "throughput" => ["msgs_per_s", "bytes_per_s"],
                var mode => throw new Xunit.Sdk.XunitException($"mode {mode}"),
            };
            Assert.All(figures, name => Assert.True(row.GetProperty(name).GetDouble() > 0, $"{transport} {name}"));
            Assert.True(row.GetProperty("vs_unix_socket").GetDouble() > 0, $"{transport}: {row}");
            Assert.True(row.GetProperty("vs_floor").GetDouble() > 0, $"{transport}: {row}");
            Assert.Equal(1, row.GetProperty("runs").GetInt32());
            Assert.True(row.GetProperty("parks_per_message").GetDouble() >= 0, $"{transport}: {row}");
            Assert.False(string.IsNullOrWhiteSpace(row.GetProperty("kernel").GetString()));
        }
        // A fan-in row's ratio is to the Unix-socket server with as many clients: that server's own is 1.
        Assert.Equal(1, rows.Single(r => r.GetProperty("transport").GetString() == "unix×2").GetProperty("vs_unix_socket").GetDouble());
        JsonElement parkedLatency = rows.Single(r => r.GetProperty("transport").GetString() == "ring-parked" && r.GetProperty("mode").GetString() == "latency");
        Assert.True(parkedLatency.GetProperty("parks_per_message").GetDouble() > 0.5, $"a ring that parks at once parked {parkedLatency.GetProperty("parks_per_message")} times a round trip");
        Assert.True(parkedLatency.GetProperty("wakes_per_message").GetDouble() > 0.5, $"a parked ring's peer woke it {parkedLatency.GetProperty("wakes_per_message")} times a round trip");
        string[] csv = File.ReadAllLines(Path.Combine(output, "results.csv"));
        Assert.StartsWith("transport,mode,size,p50_ns,p99_ns,p999_ns,max_ns,msgs_per_s,bytes_per_s", csv[0], StringComparison.Ordinal);
        Assert.Equal(rows.Length + 2, csv.Length); // the header and the wake row
        string markdown = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("**Machine:**", markdown, StringComparison.Ordinal);
        Assert.Contains("| ring-untrusted | 1 KiB |", markdown, StringComparison.Ordinal);
        foreach (string chart in new[] { "latency-by-size.png", "throughput-by-size.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(output, chart));
            Assert.True(png.Length > 1000 && png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{chart} is no PNG");
        }
        Assert.DoesNotContain(Directory.GetFiles("/dev/shm"), f => f.Contains("membrane-bench-", StringComparison.Ordinal)); // rings and journals removed
    }

    [Fact]
    public void Bench_repeat_runs_the_matrix_that_many_times_and_reports_medians_within_the_spread_of_every_run()
    {
        string output = _segments.NewDirectory("bench-repeat");
        (int exitCode, string stdout, string stderr) = Peer.RunCli("bench", "--transports", "shm-floor,ring", "--sizes", "64", "--seconds", "0.05", "--repeat", "3", "--out", output);

        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        string[][] runs = [.. File.ReadAllLines(Path.Combine(output, "runs.csv")).Skip(1).Select(line => line.Split(','))];
        Assert.Equal(3 * 4, runs.Length); // 3 runs of 2 transports in 2 modes
        Assert.Equal(["1", "2", "3"], runs.Select(r => r[0]).Distinct().Order());
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "results.json")));
        foreach (JsonElement row in json.RootElement.EnumerateArray())
        {
            Assert.Equal(3, row.GetProperty("runs").GetInt32());
            (string figure, int column) = row.GetProperty("mode").GetString() == "latency" ? ("p50_ns", 4) : ("msgs_per_s", 8);
            double[] measured = [.. runs.Where(r => r[1] == row.GetProperty("transport").GetString() && r[2] == row.GetProperty("mode").GetString())
                .Select(r => double.Parse(r[column], System.Globalization.CultureInfo.InvariantCulture)).Order()];
            Assert.Equal(3, measured.Length);
            Assert.Equal(measured[1], row.GetProperty(figure).GetDouble(), 0.5); // the median of three
            Assert.Equal(measured[0], row.GetProperty(figure + "_min").GetDouble(), 0.5);
            Assert.Equal(measured[2], row.GetProperty(figure + "_max").GetDouble(), 0.5);
        }
    }

    [Theory]
    [InlineData("--repeat", "0")]
    [InlineData("--sizes", "3")]
    [InlineData("--producers", "17")]
    public void Bench_refuses_a_bad_option_with_a_usage_error(string option, string value)
    {
        (int exitCode, _, string stderr) = Peer.RunCli("bench", option, value, "--out", _segments.NewDirectory("bench-bad-option"));

        Assert.Equal(2, exitCode);
        Assert.Contains(value, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_warns_when_something_else_keeps_a_core_busy_and_reports_the_load_beside_its_figures()
    {
        string output = _segments.NewDirectory("bench-busy");
        using Process busy = Process.Start(new ProcessStartInfo("sh", ["-c", "echo spinning; while :; do :; done"]) { RedirectStandardOutput = true })!;
        try
        {
            Assert.Equal("spinning", busy.StandardOutput.ReadLine());

            (int exitCode, string stdout, string stderr) = Peer.RunCli("bench", "--transports", "unix", "--sizes", "64", "--seconds", "0.05", "--producers", "0", "--out", output);

            Assert.True(exitCode == 0, stderr);
            Assert.Contains("The machine is busy", stdout, StringComparison.Ordinal);
            string machine = File.ReadLines(Path.Combine(output, "results.md")).Single(l => l.StartsWith("**Machine:**", StringComparison.Ordinal));
            Assert.Contains("load besides the bench before its runs: at most", machine, StringComparison.Ordinal);
        }
        finally
        {
            busy.Kill();
            busy.WaitForExit();
        }
    }

    [Fact]
    public void Bench_refuses_an_unknown_transport_naming_the_known_ones()
    {
        (int exitCode, _, string stderr) = Peer.RunCli("bench", "--transports", "carrier-pigeon", "--out", _segments.NewDirectory("bench-bad"));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("carrier-pigeon", stderr, StringComparison.Ordinal);
        Assert.Contains("ring-untrusted", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_stopped_by_SIGTERM_ends_after_the_measurement_in_progress_and_leaves_nothing_in_shared_memory()
    {
        string output = _segments.NewDirectory("bench-stopped");
        using Peer bench = Peer.Cli("bench", "--transports", "journal", "--sizes", "64", "--seconds", "0.5", "--repeat", "50", "--out", output);
        string prefix = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-{bench.Pid}-");
        string[] Left() => Directory.GetFiles(SegmentName.SharedMemoryDirectory, prefix + "*");
        try
        {
            // Stopped mid-measurement: while its journals exist (journals persist by design: a default exit would leave them).
            Eventually.Holds(() => Left().Length > 0, "the bench creating a journal");
            bench.Terminate();
            (int exitCode, string stdout) = bench.ReadToExit();

            Assert.True(exitCode == 130, $"exit {exitCode}\n{stdout}\n{bench.Stderr}");
            Assert.Contains("Interrupted after", bench.Stderr, StringComparison.Ordinal);
            Assert.Empty(Left());
            Assert.False(File.Exists(Path.Combine(output, "results.json")), "an interrupted run wrote a report");
            Assert.DoesNotContain(Process.GetProcesses(), p => CommandLine(p).Contains(prefix, StringComparison.Ordinal)); // its peers stopped
        }
        finally
        {
            foreach (string left in Left())
            {
                File.Delete(left);
            }
        }
    }

    private static string CommandLine(Process process)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/cmdline");
        }
        catch (IOException)
        {
            return ""; // gone meanwhile
        }
    }
}
