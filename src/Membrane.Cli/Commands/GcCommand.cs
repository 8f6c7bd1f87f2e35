using System.CommandLine;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary><c>membrane gc</c>: removes segments that no live process is attached to, and abandoned ones.</summary>
internal static class GcCommand
{
    internal static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Only list what would be removed." };
        var prefix = new Option<string?>("--prefix") { Description = "Only segments whose name starts with this." };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of what was removed." };
        var command = new Command("gc", "Remove every segment whose attached processes are all dead (or that has none), and every one whose creator died before finishing it.")
        {
            dryRun, prefix, json,
        };
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () =>
            Run(parse.GetValue(dryRun), parse.GetValue(prefix), parse.GetValue(json))));
        return command;
    }

    private static int Run(bool dryRun, string? prefix, bool json)
    {
        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(dryRun, prefix);
        if (json)
        {
            CliOutput.WriteJson(removed.Select(s => SegmentJson.From(s, withProcesses: true)));
            return ExitCodes.Success;
        }
        string verb = dryRun ? "would remove" : "removed";
        foreach (SegmentInfo s in removed)
        {
            AnsiConsole.MarkupLine($"{verb} [bold]{CliOutput.Escape(s.Name)}[/] ({s.Kind}, {s.Status}, {s.Processes.Count} dead process(es))");
        }
        if (removed.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]Nothing to collect.[/]");
        }
        return ExitCodes.Success;
    }
}
