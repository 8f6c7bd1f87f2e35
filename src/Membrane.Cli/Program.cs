using System.CommandLine;
using Membrane.Cli;
using Membrane.Cli.Bench;
using Membrane.Cli.Commands;
using Spectre.Console;

// Off a terminal there is no width to fit: Spectre's default of 80 columns would break every longer line of a log in two.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 240;
}

var root = new RootCommand("membrane: shared-memory IPC for .NET on Linux. List, inspect, remove and collect segments; run the demo; measure every transport.")
{
    LsCommand.Create(),
    InspectCommand.Create(),
    StatCommand.Create(),
    RmCommand.Create(),
    GcCommand.Create(),
    DemoCommand.Create(),
    WriterCommand.Create(),
    ReporterCommand.Create(),
    BridgeCommand.Create(),
    SegmentDemoCommand.Create(),
    DemoPeerCommand.Create(),
    BenchCommand.Create(),
    BenchPeerCommand.Create(),
};
ParseResult parsed = root.Parse(args);
int exitCode = await parsed.InvokeAsync().ConfigureAwait(false);
// The parser's own error action (it prints the errors and the usage) exits 1; a wrong command line is 2 here, as documented.
return parsed.Errors.Count > 0 ? ExitCodes.Usage : exitCode;
