using System.CommandLine;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary><c>membrane ls</c>: every Membrane segment in /dev/shm (or $MEMBRANE_DIR), recognised by its magic number.</summary>
internal static class LsCommand
{
    internal static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of a table." };
        var command = new Command("ls", "List every Membrane segment in /dev/shm (or $MEMBRANE_DIR): kind, size, creator, attached processes, state.") { json };
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () => Run(parse.GetValue(json))));
        return command;
    }

    private static int Run(bool json)
    {
        IReadOnlyList<SegmentInfo> segments = SegmentCatalog.List();
        if (json)
        {
            CliOutput.WriteJson(segments.Select(s => SegmentJson.From(s, withProcesses: false)));
            return ExitCodes.Success;
        }
        if (segments.Count == 0)
        {
            AnsiConsole.MarkupLine($"[grey]No Membrane segments in {Markup.Escape(SegmentName.Directory)}.[/]");
            return ExitCodes.Success;
        }
        AnsiConsole.Write(Table(segments));
        return ExitCodes.Success;
    }

    internal static Table Table(IEnumerable<SegmentInfo> segments)
    {
        var table = new Table().AddColumns("name", "kind", "size", "created by", "processes (live/total)", "state");
        foreach (SegmentInfo s in segments)
        {
            table.AddRow(
                CliOutput.Escape(s.Name),
                s.Kind.ToString(),
                Bytes(s.FileSize),
                $"{s.Creator.Pid}{(s.CreatorAlive ? "" : " [grey](dead)[/]")}",
                $"{s.LiveProcesses}/{s.Processes.Count}",
                s.IsGarbage ? $"[yellow]{s.Status}[/]" : s.Status);
        }
        return table;
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.#} KiB",
        _ => $"{bytes} B",
    };
}
