using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Membrane.Segments;

namespace Membrane.Cli.Commands;

/// <summary>
/// The second process of <c>membrane demo</c> (hidden): attaches to the demo's segment, adds to its shared counter,
/// leaves a message, and stays attached until its standard input closes.
/// </summary>
internal static class DemoPeerCommand
{
    internal const string Name = "demo-peer";

    internal static Command Create()
    {
        var segment = new Option<string>("--segment") { Required = true };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 1_000_000 };
        var command = new Command(Name, "The demo's second process.") { segment, count };
        command.Hidden = true;
        command.SetAction(parse => CliOutput.Run(json: false, () => Run(parse.GetRequiredValue(segment), parse.GetValue(count))));
        return command;
    }

    private static int Run(string name, int count)
    {
        using SharedSegment segment = SharedSegment.Open(name);
        Console.Out.WriteLine("attached");
        Console.Out.Flush();
        ref long counter = ref MemoryMarshal.AsRef<long>(segment.Payload[DemoLayout.Counter..]);
        for (int i = 0; i < count; i++)
        {
            Interlocked.Increment(ref counter);
        }
        string message = string.Create(CultureInfo.InvariantCulture, $"hello from pid {Environment.ProcessId}, {count:N0} increments");
        Span<byte> text = segment.Payload.Slice(DemoLayout.Message, DemoLayout.MessageLength);
        text.Clear();
        Encoding.UTF8.GetBytes(message, text);
        Console.Out.WriteLine("done");
        Console.Out.Flush();
        Console.In.ReadToEnd(); // stay attached until the demo lets go
        return ExitCodes.Success;
    }
}

/// <summary>The demo segment's payload: a counter both processes increment, then a message.</summary>
internal static class DemoLayout
{
    internal const int Counter = 0;
    internal const int Message = 64; // its own cache line: the counter is contended, the message is not
    internal const int MessageLength = 128;
    internal const int PayloadSize = Message + MessageLength;
}
