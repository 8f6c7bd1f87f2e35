using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Membrane.Errors;
using Membrane.Journals;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane demo</c>: a journal, one writer and two reporters as separate processes; live rates, lag and losses
/// per reader; a graceful stop; a summary with the CSV files' whereabouts; the journal removed at the end.
/// </summary>
internal static class DemoCommand
{
    private const int Readers = 2;

    internal static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long the writer runs.", DefaultValueFactory = _ => 10 };
        var rate = new Option<double>("--rate") { Description = "Entries per second the writer appends.", DefaultValueFactory = _ => 50_000 };
        var output = new Option<string?>("--out") { Description = "Directory for the CSV files (default: a new one under the temp directory)." };
        var command = new Command("demo", "Run a journal with one writer and two reporter processes; show rates, lag and losses live.") { seconds, rate, output };
        command.SetAction(parse => CliOutput.Run(json: false, () => Run(parse.GetValue(seconds), parse.GetValue(rate), parse.GetValue(output))));
        return command;
    }

    private static int Run(double seconds, double rate, string? outputDirectory)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{Environment.ProcessId}");
        string directory = outputDirectory ?? Path.Combine(Path.GetTempPath(), name);
        Directory.CreateDirectory(directory);
        string[] csv = [.. Enumerable.Range(0, Readers).Select(id => Path.Combine(directory, $"output_{id}.csv"))];
        foreach (string file in csv)
        {
            File.Delete(file);
        }

        // Ctrl-C (or SIGTERM) ends the run early, as the clock would, from before the journal exists (a default exit would
        // leave it). At a terminal the writer and the reporters get the same Ctrl-C and stop by themselves, each reporter
        // with the rows it has read so far written and committed.
        using var interrupt = new StopSignal();
        AnsiConsole.MarkupLine($"Journal [bold]{name}[/]: 65,536 slots, {Readers} cursors, overwrite policy (the writer never waits).");
        // Removed when unused: killed with kill -9, the demo cannot remove it, but its children stop (see Start) and the
        // last of them to close it removes it.
        Journal journal = Journal.Create(name, new JournalOptions { Capacity = 1 << 16, Cursors = Readers, SlotSize = 64, RemoveWhenUnused = true });
        var children = new List<Process>();
        try
        {
            Process writer = Start(children, "writer", "--journal", name, "--rate", rate.ToString(CultureInfo.InvariantCulture));
            Process[] reporters = [.. Enumerable.Range(0, Readers).Select(id =>
                Start(children, "reporter", "--journal", name, "--id", id.ToString(CultureInfo.InvariantCulture), "--out", csv[id]))];
            AnsiConsole.MarkupLine($"Started writer (pid {writer.Id}) and reporters (pids {string.Join(", ", reporters.Select(r => r.Id))}); running {seconds:0.#} s.");

            Watch(journal, TimeSpan.FromSeconds(seconds), interrupt.Token);
            bool interrupted = interrupt.Token.IsCancellationRequested;
            Stop(writer);
            if (!interrupted)
            {
                WaitUntilCaughtUp(journal, TimeSpan.FromSeconds(30));
            }
            Array.ForEach(reporters, Stop);

            AnsiConsole.WriteLine();
            AnsiConsole.MarkupLine($"[bold]Summary[/]{(interrupted ? " (interrupted)" : "")}  writer: {CliOutput.Escape(writer.StandardOutput.ReadToEnd().Trim())}");
            long written = journal.WritePosition;
            IReadOnlyList<CursorInfo> cursors = journal.Cursors();
            bool allGood = true;
            for (int id = 0; id < Readers; id++)
            {
                _ = reporters[id].StandardOutput.ReadToEnd();
                (long rows, long lost) = CountCsv(csv[id]);
                // Every sequence the reporter committed must be in the file once: as a row, or counted on a "# lost" line.
                // Run to its end, a reporter has caught up with the writer; stopped early, it has read what it committed.
                long expected = interrupted ? cursors.Single(c => c.Id == id).CommittedPosition : written;
                bool accounted = rows + lost == expected;
                allGood &= accounted;
                string verdict = !accounted ? "[red](entries missing)[/]" : lost == 0 ? "[green](every entry, once)[/]" : $"[yellow]({lost:N0} lost to overwrite, see its # lost lines)[/]";
                string behind = expected < written ? $", stopped {written - expected:N0} behind the writer" : "";
                AnsiConsole.MarkupLine($"  reader {id}: {rows:N0} rows of {expected:N0} in {CliOutput.Escape(csv[id])} {verdict}{behind}");
            }
            AnsiConsole.MarkupLine($"CSV files: [bold]{CliOutput.Escape(directory)}[/]");
            if (!allGood)
            {
                return ExitCodes.Failed;
            }
        }
        finally
        {
            // Whatever happened, no child and no journal outlives the demo.
            foreach (Process child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill();
                }
                child.Dispose();
            }
            journal.Dispose();
            Segments.SharedSegment.Remove(name);
            AnsiConsole.MarkupLine($"Removed the journal {name}.");
        }
        AnsiConsole.MarkupLine("[green]Done.[/]");
        return ExitCodes.Success;
    }

    /// <summary>Data rows and the entries its "# lost N (...)" lines account for.</summary>
    private static (long Rows, long Lost) CountCsv(string path)
    {
        long rows = 0, lost = 0;
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            if (line.StartsWith("# lost ", StringComparison.Ordinal))
            {
                lost += long.Parse(line.AsSpan(7, line.IndexOf(' ', 7) - 7), CultureInfo.InvariantCulture);
            }
            else
            {
                rows++;
            }
        }
        return (rows, lost);
    }

    /// <summary>
    /// Starts a child that stops when its standard input (a pipe from here) closes: <see cref="Stop"/> closes it, and so
    /// does the kernel if this process dies, even of <c>kill -9</c>, so that no writer or reporter outlives the demo.
    /// </summary>
    private static Process Start(List<Process> children, params string[] arguments)
    {
        Process process = Process.Start(SelfProcess.StartInfo([.. arguments, StopSignal.AtEndOfInput.Name]))
            ?? throw new InvalidOperationException("Could not start " + arguments[0]);
        children.Add(process);
        return process;
    }

    /// <summary>
    /// Every 250 ms the writer's position and rate, each reader's position, lag, rate and process: a live table on a
    /// terminal; off one (a file, a pipe), a plain line a second, so that a log holds each reading once.
    /// </summary>
    private static void Watch(Journal journal, TimeSpan duration, CancellationToken interrupt)
    {
        var table = new Table().AddColumns("", "position", "lag", "rate (entries/s)", "reader process");
        var clock = Stopwatch.StartNew();
        long[] previous = new long[Readers + 1];
        TimeSpan previousTime = TimeSpan.Zero;
        bool terminal = !Console.IsOutputRedirected;
        void Sample(Action refresh)
        {
            while (clock.Elapsed < duration && !interrupt.WaitHandle.WaitOne(terminal ? 250 : 1000))
            {
                TimeSpan now = clock.Elapsed;
                double interval = (now - previousTime).TotalSeconds;
                previousTime = now;
                long write = journal.WritePosition;
                table.Rows.Clear();
                table.AddRow("writer", $"{write:N0}", "", $"{(write - previous[0]) / interval:N0}", "");
                var line = new System.Text.StringBuilder($"{now.TotalSeconds,5:0.0} s  writer {write:N0} ({(write - previous[0]) / interval:N0}/s)");
                previous[0] = write;
                foreach (CursorInfo cursor in journal.Cursors())
                {
                    double rate = (cursor.CommittedPosition - previous[cursor.Id + 1]) / interval;
                    string process = cursor.Owner is { } owner ? $"{owner.Pid}{(cursor.OwnerAlive ? "" : " (dead)")}" : "-";
                    table.AddRow($"reader {cursor.Id}", $"{cursor.CommittedPosition:N0}", $"{cursor.Lag:N0}", $"{rate:N0}", process);
                    line.Append(CultureInfo.InvariantCulture, $"  reader {cursor.Id} {cursor.CommittedPosition:N0} lag {cursor.Lag:N0} ({rate:N0}/s, pid {process})");
                    previous[cursor.Id + 1] = cursor.CommittedPosition;
                }
                if (terminal)
                {
                    refresh();
                }
                else
                {
                    Console.Out.WriteLine(line.ToString());
                    Console.Out.Flush();
                }
            }
        }
        if (terminal)
        {
            AnsiConsole.Live(table).Start(context => Sample(context.Refresh));
        }
        else
        {
            Sample(() => { });
        }
    }

    private static void Stop(Process process)
    {
        // The writer and reporters flush, commit and exit 0 once their input closes (one that stopped on a Ctrl-C already has).
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It exited already: the pipe has no reader.
        }
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            throw new MembraneException($"Process {process.Id} did not stop within 30 s of its standard input closing.");
        }
    }

    private static void WaitUntilCaughtUp(Journal journal, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (journal.Cursors().Any(c => c.CommittedPosition < journal.WritePosition) && clock.Elapsed < limit)
        {
            Thread.Sleep(50);
        }
    }
}
