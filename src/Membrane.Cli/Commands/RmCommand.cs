using System.CommandLine;
using Membrane.Segments;

namespace Membrane.Cli.Commands;

/// <summary><c>membrane rm NAME</c>: removes a segment, refusing one in use unless forced.</summary>
internal static class RmCommand
{
    internal static Command Create()
    {
        var names = new Argument<string[]>("name") { Description = "The segments to remove.", Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Remove even while live processes are attached (they keep their mapping)." };
        var file = new Option<bool>("--file") { Description = "NAME is the path of a file-backed segment." };
        var json = new Option<bool>("--json") { Description = "Print a JSON object saying what was removed." };
        var command = new Command("rm", "Remove segments. Refuses a segment with live processes attached unless --force, and anything that is not a Membrane segment.")
        {
            names, force, file, json,
        };
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () => Run(
            parse.GetRequiredValue(names), parse.GetValue(force),
            parse.GetValue(file) ? SegmentBacking.File : SegmentBacking.SharedMemory, parse.GetValue(json))));
        return command;
    }

    private static int Run(string[] names, bool force, SegmentBacking backing, bool json)
    {
        var removed = new List<string>();
        foreach (string name in names)
        {
            SegmentCatalog.Remove(name, force, backing);
            removed.Add(name);
            if (!json)
            {
                Console.Out.WriteLine($"removed {name}");
            }
        }
        if (json)
        {
            CliOutput.WriteJson(new { Removed = removed });
        }
        return ExitCodes.Success;
    }
}
