using System.CommandLine;
using Membrane.Cli.Bench;
using Membrane.Cli.Commands;

var root = new RootCommand("membrane: shared-memory IPC for .NET on Linux. List, inspect, remove and collect segments; run the demo; measure every transport.")
{
    LsCommand.Create(),
    InspectCommand.Create(),
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
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
