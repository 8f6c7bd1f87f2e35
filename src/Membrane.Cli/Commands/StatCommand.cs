using System.CommandLine;
using System.Globalization;
using Membrane.Diagnostics;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane stat</c>: a live view of every segment's counters, read from the segments themselves (no process needs
/// to cooperate): journals' write rate and each cursor's position, lag, rate and losses; rings' and queues' depth and
/// rates both ways, parks and wakes; arcs' lock holder, lock rate and dead owners. A table on a terminal, plain lines otherwise.
/// </summary>
internal static class StatCommand
{
    internal static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one snapshot as JSON (rates over one interval) and exit." };
        var watch = new Option<string?>("--watch") { Description = "Follow this segment only." };
        var interval = new Option<double>("--interval") { Description = "Seconds between readings.", DefaultValueFactory = _ => 1 };
        var count = new Option<int?>("--count") { Description = "Stop after this many refreshes (default: until Ctrl+C)." };
        var command = new Command("stat", "Show every segment's rates, lag, depth and losses live, read from the segments themselves.") { json, watch, interval, count };
        interval.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (> 0 and <= 3600))
            {
                result.AddError("--interval must be more than 0 and at most 3600 seconds.");
            }
        });
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is <= 0)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () =>
            Run(parse.GetValue(json), parse.GetValue(watch), TimeSpan.FromSeconds(parse.GetValue(interval)), parse.GetValue(json) ? 1 : parse.GetValue(count))));
        return command;
    }

    private static int Run(bool json, string? watch, TimeSpan interval, int? count)
    {
        using var stop = new StopSignal();
        Func<IReadOnlyList<SegmentSample>> read = watch is null ? SegmentStatistics.SampleAll : () => [SegmentStatistics.Sample(watch)];
        Dictionary<string, SegmentSample> previous = read().ToDictionary(s => s.Name);
        bool live = !json && !Console.IsOutputRedirected;
        var table = new Table();
        void Refresh(Action draw)
        {
            for (int refresh = 0; count is null || refresh < count; refresh++)
            {
                if (stop.Token.WaitHandle.WaitOne(interval))
                {
                    return;
                }
                IReadOnlyList<SegmentSample> now = read();
                IReadOnlyList<StatRow> rows = [.. now.Select(s => StatRow.From(s, previous.GetValueOrDefault(s.Name)))];
                previous = now.ToDictionary(s => s.Name);
                if (json)
                {
                    CliOutput.WriteJson(rows);
                }
                else if (live)
                {
                    Fill(table, rows);
                    draw();
                }
                else
                {
                    WriteLines(rows);
                }
            }
        }
        if (live)
        {
            AnsiConsole.Live(table).Start(context => Refresh(context.Refresh));
        }
        else
        {
            Refresh(() => { });
        }
        return ExitCodes.Success;
    }

    private static void Fill(Table table, IReadOnlyList<StatRow> rows)
    {
        if (table.Columns.Count == 0)
        {
            table.AddColumns("segment", "kind", "position", "rate /s", "lag / depth", "details");
        }
        table.Rows.Clear();
        foreach (StatRow row in rows)
        {
            foreach (string[] cells in row.Cells())
            {
                table.AddRow([.. cells.Select(CliOutput.Escape)]);
            }
        }
        if (rows.Count == 0)
        {
            table.AddRow("[grey]no segments[/]", "", "", "", "", "");
        }
    }

    /// <summary>Off a terminal: one line a row, a blank line between readings, nothing redrawn.</summary>
    private static void WriteLines(IReadOnlyList<StatRow> rows)
    {
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {DateTimeOffset.Now:HH:mm:ss} {rows.Count} segment(s)"));
        foreach (StatRow row in rows)
        {
            foreach (string[] cells in row.Cells())
            {
                Console.Out.WriteLine(string.Join("  ", cells.Where(c => c.Length > 0)));
            }
        }
        Console.Out.Flush();
    }
}
