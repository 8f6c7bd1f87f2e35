using System.CommandLine;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane gc</c>: removes what is garbage by its kind's rules (see <see cref="SegmentInfo.IsCollectable"/>):
/// segments meant to go when unused that no live process holds, and abandoned creations. Journals persist.
/// </summary>
internal static class GcCommand
{
    internal static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Only list what would be removed." };
        var prefix = new Option<string?>("--prefix") { Description = "Only segments whose name starts with this." };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of what was removed." };
        var includeJournals = new Option<bool>("--include-journals")
        {
            Description = "Also remove persistent segments no live process holds: journals (their entries and every reader's position) and raw segments created without remove-when-unused.",
        };
        var command = new Command("gc",
            "Remove segments created to go when unused that no live process holds (arcs, rings), and creations whose creator died. Journals persist until 'membrane rm' or --include-journals.")
        {
            dryRun, prefix, includeJournals, json,
        };
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () =>
            Run(parse.GetValue(dryRun), parse.GetValue(prefix), parse.GetValue(includeJournals), parse.GetValue(json))));
        return command;
    }

    private static int Run(bool dryRun, string? prefix, bool includeJournals, bool json)
    {
        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(dryRun, prefix, includeJournals);
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
