using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Membrane.Cli.Commands;
using Membrane.Errors;
using Spectre.Console;

namespace Membrane.Cli.Bench;

/// <summary>
/// <c>membrane bench</c>: every transport side by side, each scenario between this process and a peer process it
/// starts, latency (ping-pong round trips) and throughput (one way), for each message size; with <c>--repeat N</c> the
/// whole matrix N times, interleaved, reported as medians and spreads; a table at the end and results.md, results.csv,
/// results.json, runs.csv and charts in <c>--out</c>.
/// </summary>
internal static class BenchCommand
{
    private static readonly int[] s_fullSizes = [64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
    private static readonly int[] s_quickSizes = [64, 64 * 1024];

    internal static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "A short run (about 0.25 s a scenario, sizes 64 B and 64 KiB unless --sizes): about half a minute." };
        var sizes = new Option<string?>("--sizes") { Description = "Message sizes, comma-separated; k and m suffixes allowed (64,1k,64k,1m). Default: 64,1k,16k,64k,1m." };
        var transports = new Option<string?>("--transports") { Description = $"Transports, comma-separated, from: {string.Join(", ", BenchTransport.All.Select(t => t.Name))}. Default: all." };
        var output = new Option<string>("--out") { Description = "Directory for results.md, results.csv, results.json and the charts.", DefaultValueFactory = _ => "bench-results" };
        var seconds = new Option<double?>("--seconds") { Description = "Seconds each measurement runs (default 1.5, or 0.25 with --quick)." };
        var producers = new Option<string>("--producers")
        {
            Description = "Producer processes of the fan-in throughput rows (queue, journal with many writers, and a Unix-socket server with as many clients), comma-separated; 0: none.",
            DefaultValueFactory = _ => "1,2",
        };
        var repeat = new Option<int>("--repeat")
        {
            Description = "Runs of the whole matrix, one after the other (so that each scenario's runs are minutes apart); the report gives each figure's median and spread.",
            DefaultValueFactory = _ => 1,
        };
        var command = new Command("bench", "Measure every transport (Membrane's rings and journal; Unix socket, pipes, TCP) between two processes, side by side.")
        {
            quick, sizes, transports, output, seconds, repeat, producers,
        };
        command.SetAction(parse =>
        {
            bool isQuick = parse.GetValue(quick);
            int[] chosenSizes;
            IReadOnlyList<BenchTransport> chosenTransports;
            int runs = parse.GetValue(repeat);
            try
            {
                chosenSizes = ParseSizes(parse.GetValue(sizes)) ?? (isQuick ? s_quickSizes : s_fullSizes);
                chosenTransports = WithFanIns(ParseTransports(parse.GetValue(transports)), ParseProducers(parse.GetRequiredValue(producers)));
                if (runs is < 1 or > 100)
                {
                    throw new ArgumentException($"--repeat is 1 to 100 runs, not {runs}.");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return ExitCodes.Usage;
            }
            return Run(chosenSizes, chosenTransports, runs, parse.GetRequiredValue(output), TimeSpan.FromSeconds(parse.GetValue(seconds) ?? (isQuick ? 0.25 : 1.5)));
        });
        return command;
    }

    private static int Run(IReadOnlyList<int> sizes, IReadOnlyList<BenchTransport> transports, int runs, string outputDirectory, TimeSpan budget)
    {
        MachineInfo machine = MachineInfo.Current();
        AnsiConsole.MarkupLine($"[bold]membrane bench[/] on {Markup.Escape(machine.OneLine)}");
        if (MachineInfo.IsDebugBuild)
        {
            AnsiConsole.MarkupLine("[yellow]This is a Debug build: the JIT optimiser is off and the figures are not representative. Run with -c Release.[/]");
        }
        var plan = (from size in sizes from transport in transports from mode in new[] { BenchResult.LatencyMode, BenchResult.ThroughputMode, BenchResult.WakeMode } where transport.Measures(mode, size) select (transport, mode, size)).ToList();
        string scratch = Directory.CreateTempSubdirectory("membrane-bench-").FullName;
        var results = new List<BenchResult>();
        // Ctrl-C or SIGTERM ends the run after the measurement in progress, whose peers are stopped and whose segments
        // are removed as after any other: a default exit would leave that measurement's journals behind (they persist).
        using var stop = new StopSignal();
        try
        {
            AnsiConsole.Progress().AutoClear(false).Start(context =>
            {
                ProgressTask progress = context.AddTask("scenarios", maxValue: plan.Count * runs);
                for (int run = 1; run <= runs && !stop.Token.IsCancellationRequested; run++)
                {
                    if (MachineLoad.BusyCores() is double busy)
                    {
                        machine = machine with { BusyCores = Math.Max(busy, machine.BusyCores ?? 0) };
                        if (busy >= MachineLoad.BusyThreshold)
                        {
                            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                                $"[yellow]The machine is busy: something else kept {busy:0.00} of its {machine.Cores} cores busy before run {run}. The spinning transports need a core for each end; their figures will be low and noisy. See `top`.[/]"));
                        }
                    }
                    foreach ((BenchTransport transport, string mode, int size) in plan)
                    {
                        if (stop.Token.IsCancellationRequested)
                        {
                            break;
                        }
                        progress.Description = runs == 1 ? $"{transport.Name} {mode} {Format.Size(size)}" : $"run {run}/{runs}: {transport.Name} {mode} {Format.Size(size)}";
                        results.Add(RunScenario(transport, mode, size, budget, scratch) with { Run = run });
                        progress.Increment(1);
                    }
                }
                progress.Description = "scenarios";
            });
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
        if (stop.Token.IsCancellationRequested)
        {
            Console.Error.WriteLine($"Interrupted after {results.Count} of {plan.Count * runs} measurements: no report written, nothing left in shared memory.");
            return ExitCodes.Interrupted;
        }
        IReadOnlyList<BenchResult> compared = BenchResult.Compared(results);
        IReadOnlyList<BenchSummary> summaries = BenchSummary.Of(compared);
        string method = string.Create(CultureInfo.InvariantCulture,
            $"each row runs between this process and a peer process; {budget.TotalSeconds:0.##} s a measurement after a warm-up of a fifth of that; the whole matrix {runs} time(s), one run after the other, each figure the median of the runs, the spread the lowest and highest run (every run in runs.csv). Latency: round trips of one message (echoed), p50/p99/p99.9 from an HdrHistogram (max: the highest of the runs). Throughput: one-way messages until the time is up, timed until the peer acknowledges all of them in order. Every message carries its sequence number and both sides check it: a run that lost or reordered one reports an error, no figures. Ratios compare with the Unix socket and with the shm-floor of the same run and size (above 1 is better; the median of the runs' ratios, and the worst in brackets).");
        IReadOnlyList<string> files = BenchReport.Write(outputDirectory, summaries, compared, machine, method);
        AnsiConsole.Write(LatencyTable(summaries));
        AnsiConsole.Write(ThroughputTable(summaries));
        if (summaries.Any(r => r.Mode == BenchResult.WakeMode))
        {
            AnsiConsole.Write(WakeTable(summaries));
        }
        foreach (string file in files)
        {
            AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(file)}[/]");
        }
        int failed = compared.Count(r => !r.Succeeded);
        if (failed > 0)
        {
            Console.Error.WriteLine($"{failed} of {compared.Count} measurements failed; their rows carry the error, and runs.csv every run's.");
            return ExitCodes.Failed;
        }
        return ExitCodes.Success;
    }

    /// <summary>One scenario between this process and its peers; any failure becomes the row's error, never a figure.</summary>
    private static BenchResult RunScenario(BenchTransport transport, string mode, int size, TimeSpan budget, string scratch)
    {
        var row = new BenchResult(transport.Name, mode, size) { Baseline = transport.Baseline };
        try
        {
            return transport switch
            {
                PairTransport pair => RunPair(pair, row, budget, scratch),
                FanInTransport fanIn => RunFanIn(fanIn, row, budget, scratch),
                _ => throw new InvalidOperationException($"no way to run {transport.Name}"),
            };
        }
        catch (Exception e) when (e is MembraneException or IOException or InvalidDataException or TimeoutException or System.Net.Sockets.SocketException
            or InvalidOperationException or UnauthorizedAccessException)
        {
            return row with { Error = $"{e.GetType().Name}: {e.Message}" };
        }
    }

    /// <summary>The bench and one peer process: a round trip or a one-way stream through <paramref name="transport"/>.</summary>
    private static BenchResult RunPair(PairTransport transport, BenchResult row, TimeSpan budget, string scratch)
    {
        (string mode, int size) = (row.Mode, row.Size);
        using var counters = new WaitCounters();
        using PendingLink pending = transport.Prepare(size, mode, scratch);
        using Process peer = Process.Start(SelfProcess.StartInfo([BenchPeerCommand.Name, transport.Name, mode, size.ToString(CultureInfo.InvariantCulture), .. pending.Endpoint]))!;
        try
        {
            using IBenchLink link = pending.Complete();
            Expect(peer, "ready");
            long exchanged;
            BenchResult measured = link is ISelfTimedLink selfTimed ? selfTimed.Measure(row, () => NextLine(peer), out exchanged)
                : mode == BenchResult.LatencyMode ? Latency(row, link, size, budget, out exchanged)
                : Throughput(row, link, size, budget, out exchanged);
            (long peerParks, long peerWakes) = ExpectDone(peer);
            measured = measured with
            {
                ParksPerMessage = Math.Round((double)(counters.Parks + peerParks) / exchanged, 4),
                WakesPerMessage = Math.Round((double)(counters.Wakes + peerWakes) / exchanged, 4),
            };
            return peer.WaitForExit(TimeSpan.FromSeconds(10)) && peer.ExitCode == 0 ? measured : row with { Error = $"the peer exited with {peer.ExitCode}" };
        }
        finally
        {
            Stop(peer);
        }
    }

    /// <summary>Several producer processes into the bench (see <see cref="FanInScenario"/>).</summary>
    private static BenchResult RunFanIn(FanInTransport transport, BenchResult row, TimeSpan budget, string scratch)
    {
        using var counters = new WaitCounters();
        using FanInReceiver receiver = transport.Prepare(row.Size, scratch);
        var peers = new List<Process>();
        try
        {
            for (int producer = 0; producer < transport.Producers; producer++)
            {
                peers.Add(Process.Start(SelfProcess.StartInfo([BenchPeerCommand.Name, transport.Kind, BenchPeerCommand.FanInMode, row.Size.ToString(CultureInfo.InvariantCulture),
                    transport.Producers.ToString(CultureInfo.InvariantCulture), producer.ToString(CultureInfo.InvariantCulture),
                    budget.TotalSeconds.ToString("R", CultureInfo.InvariantCulture), .. receiver.Endpoint]))!);
            }
            receiver.Complete();
            foreach (Process peer in peers)
            {
                Expect(peer, "ready");
            }
            (long messages, TimeSpan elapsed) = FanInScenario.Receive(receiver, transport.Producers, row.Size, budget, () =>
            {
                foreach (Process peer in peers)
                {
                    peer.StandardInput.WriteLine("go");
                    peer.StandardInput.Flush();
                }
            }, out long exchanged);
            long peerParks = 0, peerWakes = 0;
            foreach (Process peer in peers)
            {
                (long parks, long wakes) = ExpectDone(peer);
                peerParks += parks;
                peerWakes += wakes;
            }
            double rate = messages / elapsed.TotalSeconds;
            BenchResult measured = row with
            {
                MsgsPerS = rate,
                BytesPerS = rate * row.Size,
                Samples = messages,
                ParksPerMessage = Math.Round((double)(counters.Parks + peerParks) / exchanged, 4),
                WakesPerMessage = Math.Round((double)(counters.Wakes + peerWakes) / exchanged, 4),
            };
            Process? failed = peers.FirstOrDefault(p => !p.WaitForExit(TimeSpan.FromSeconds(10)) || p.ExitCode != 0);
            return failed is null ? measured : row with { Error = $"a producer exited with {(failed.HasExited ? failed.ExitCode : "nothing: it hung")}" };
        }
        finally
        {
            foreach (Process peer in peers)
            {
                Stop(peer);
                peer.Dispose();
            }
        }
    }

    private static void Stop(Process peer)
    {
        if (!peer.HasExited)
        {
            peer.Kill(entireProcessTree: true);
            peer.WaitForExit();
        }
    }

    private static BenchResult Latency(BenchResult row, IBenchLink link, int size, TimeSpan budget, out long exchanged)
    {
        LongHistogram histogram = link is IAsyncBenchLink asynchronous
            ? Scenarios.LatencyAsync(asynchronous, size, budget, out exchanged)
            : Scenarios.Latency(link, size, budget, out exchanged);
        return row with
        {
            P50Ns = histogram.GetValueAtPercentile(50),
            P99Ns = histogram.GetValueAtPercentile(99),
            P999Ns = histogram.GetValueAtPercentile(99.9),
            MaxNs = histogram.GetMaxValue(),
            Samples = histogram.TotalCount,
        };
    }

    private static BenchResult Throughput(BenchResult row, IBenchLink link, int size, TimeSpan budget, out long exchanged)
    {
        (long messages, TimeSpan elapsed) = Scenarios.Throughput(link, size, budget, out exchanged);
        double rate = messages / elapsed.TotalSeconds;
        return row with { MsgsPerS = rate, BytesPerS = rate * size, Samples = messages };
    }

    private static void Expect(Process peer, string expected)
    {
        string said = NextLine(peer);
        if (said != expected)
        {
            throw new InvalidOperationException($"the peer said \"{said}\" instead of \"{expected}\"");
        }
    }

    /// <summary>The peer's "done", with the parks and wakes it counted.</summary>
    private static (long Parks, long Wakes) ExpectDone(Process peer)
    {
        string said = NextLine(peer);
        return said.Split(' ') is ["done", string parks, string wakes]
            && long.TryParse(parks, NumberStyles.None, CultureInfo.InvariantCulture, out long p)
            && long.TryParse(wakes, NumberStyles.None, CultureInfo.InvariantCulture, out long w)
            ? (p, w)
            : throw new InvalidOperationException($"the peer said \"{said}\" instead of \"done <parks> <wakes>\"");
    }

    private static string NextLine(Process peer)
    {
        Task<string?> line = peer.StandardOutput.ReadLineAsync();
        return line.Wait(TimeSpan.FromSeconds(30)) ? line.Result ?? "nothing (it exited)" : "nothing within 30 s";
    }

    private static Table LatencyTable(IReadOnlyList<BenchSummary> results)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("round trip (ns; medians)")
            .AddColumns("transport", "size", "p50", "p50 spread", "p99", "p99.9", "max", "vs unix", "vs floor (worst)", "parks/msg");
        foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.LatencyMode))
        {
            table.AddRow(Row(r, [N(r.P50Ns), Format.Spread(r.P50NsMin, r.P50NsMax), N(r.P99Ns), N(r.P999Ns), N(r.MaxNs)]));
        }
        return table;
    }

    private static Table ThroughputTable(IReadOnlyList<BenchSummary> results)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("one way (medians)")
            .AddColumns("transport", "size", "messages/s", "spread", "MB/s", "vs unix", "vs floor (worst)", "parks/msg");
        foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.ThroughputMode))
        {
            table.AddRow(Row(r, [N(r.MsgsPerS), Format.Spread(r.MsgsPerSMin, r.MsgsPerSMax), r.BytesPerS is double b ? (b / 1e6).ToString("N1", CultureInfo.InvariantCulture) : ""]));
        }
        return table;
    }

    private static Table WakeTable(IReadOnlyList<BenchSummary> results)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"{ScaleBenchLink.Rings:N0} pending async reads: wake, one way (ns; medians)")
            .AddColumns("transport", "size", "p50", "p99", "p99.9", "max", "threads");
        foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.WakeMode))
        {
            table.AddRow(r.Succeeded
                ? [r.Transport, Format.Size(r.Size), N(r.P50Ns), N(r.P99Ns), N(r.P999Ns), N(r.MaxNs), N(r.ExtraThreadsMax)]
                : [r.Transport, Format.Size(r.Size), "[red]failed[/]", "", "", "", Markup.Escape(r.Error ?? "")]);
        }
        return table;
    }

    /// <summary>A table row: transport, size, the figures, the ratios; or, for a failed run, the error in place of all figures.</summary>
    private static string[] Row(BenchSummary r, string[] figures) => r.Succeeded
        ? [r.Transport, Format.Size(r.Size), .. figures, Format.Ratio(r.VsUnixSocket), Format.FloorRatio(r), Format.Parks(r)]
        : [r.Transport, Format.Size(r.Size), "[red]failed[/]", .. figures.Skip(1).Select(_ => ""), "", "", Markup.Escape(r.Error ?? "")];

    private static string N(double? value) => value is double v ? v.ToString("N0", CultureInfo.InvariantCulture) : "";

    private static int[]? ParseSizes(string? text) =>
        text is null ? null : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseSize)];

    private static int ParseSize(string text)
    {
        string lower = text.ToLowerInvariant();
        (string digits, int unit) = lower.EndsWith('k') ? (lower[..^1], 1024) : lower.EndsWith('m') ? (lower[..^1], 1 << 20) : (lower, 1);
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && (long)value * unit is >= 16 and <= 16 << 20
            ? value * unit
            : throw new ArgumentException($"Not a message size from 16 B to 16 MiB: '{text}'.");
    }

    /// <summary>
    /// The chosen transports, and after them a fan-in row for each chosen kind (queue, journal, unix) and each count of
    /// <paramref name="producers"/>: each kind's counts together, the Unix-socket servers last, as the baselines are.
    /// </summary>
    private static IReadOnlyList<BenchTransport> WithFanIns(IReadOnlyList<BenchTransport> chosen, IReadOnlyList<int> producers) =>
        [.. chosen, .. from kind in FanInTransport.Kinds where chosen.Any(t => t.Name == kind) from count in producers select FanInTransport.Of(kind, count)];

    private static int[] ParseProducers(string text)
    {
        int[] counts = [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(word =>
            int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count is >= 0 and <= 16 ? count
                : throw new ArgumentException($"--producers takes counts from 0 to 16, not '{word}'."))];
        return [.. counts.Where(c => c > 0).Distinct().Order()];
    }

    private static IReadOnlyList<BenchTransport> ParseTransports(string? text)
    {
        if (text is null)
        {
            return BenchTransport.All;
        }
        var chosen = new List<BenchTransport>();
        foreach (string name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            chosen.Add(BenchTransport.Find(name) ?? throw new ArgumentException(
                $"No transport '{name}'. Known: {string.Join(", ", BenchTransport.All.Select(t => t.Name))}."));
        }
        return chosen;
    }
}
