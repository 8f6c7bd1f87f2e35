using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Membrane.Errors;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane demo-segment</c>: the segment core at work across two real processes. Creates a segment, starts a second
/// process that attaches to it, both increment one shared counter, lists the segment while both are attached, and
/// removes it when the last one lets go.
/// </summary>
internal static class SegmentDemoCommand
{
    internal static Command Create()
    {
        var count = new Option<int>("--count") { Description = "Increments per process.", DefaultValueFactory = _ => 1_000_000 };
        var command = new Command("demo-segment", "Show a raw shared segment at work between two processes (create, attach, share, list, clean up).") { count };
        command.SetAction(parse => CliOutput.Run(json: false, () => Run(parse.GetValue(count))));
        return command;
    }

    private static int Run(int count)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{Environment.ProcessId}");
        var options = new SegmentOptions { RemoveWhenUnused = true };
        AnsiConsole.MarkupLine($"1. Creating segment [bold]{name}[/] in {SegmentName.Directory} (removed when the last process detaches).");
        using (SharedSegment segment = SharedSegment.Create(name, DemoLayout.PayloadSize, options))
        {
            AnsiConsole.MarkupLine($"2. Starting a second process to attach to it; both add {count:N0} to one shared counter.");
            using var peer = Process.Start(SelfProcess.StartInfo(DemoPeerCommand.Name, "--segment", name, "--count",
                count.ToString(CultureInfo.InvariantCulture))) ?? throw new InvalidOperationException("Could not start the demo's peer process.");
            try
            {
                Expect(peer, "attached");
                var stopwatch = Stopwatch.StartNew();
                ref long counter = ref MemoryMarshal.AsRef<long>(segment.Payload[DemoLayout.Counter..]);
                for (int i = 0; i < count; i++)
                {
                    Interlocked.Increment(ref counter);
                }
                Expect(peer, "done");
                stopwatch.Stop();

                AnsiConsole.MarkupLine("3. The segment as [bold]membrane ls[/] shows it, both processes attached:");
                AnsiConsole.Write(LsCommand.Table(SegmentCatalog.List().Where(s => s.Name == name)));
                long total = Volatile.Read(ref counter);
                string message = Encoding.UTF8.GetString(segment.Payload.Slice(DemoLayout.Message, DemoLayout.MessageLength)).TrimEnd('\0');
                string verdict = total == 2L * count ? "[green]no update lost[/]" : "[red]updates lost[/]";
                AnsiConsole.MarkupLine($"   counter = {total:N0} (expected {2L * count:N0}: {verdict}), in {stopwatch.Elapsed.TotalMilliseconds:N0} ms");
                AnsiConsole.MarkupLine($"   message left by the peer: \"{CliOutput.Escape(message)}\"");
                if (total != 2L * count)
                {
                    return ExitCodes.Failed;
                }
            }
            finally
            {
                peer.StandardInput.Close(); // the peer detaches and exits
                if (!peer.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    peer.Kill();
                }
            }
            AnsiConsole.MarkupLine("4. The peer has detached; detaching this process, the last one, removes the segment.");
        }
        bool gone = !File.Exists(Path.Combine(SegmentName.Directory, name));
        AnsiConsole.MarkupLine(gone ? $"5. {SegmentName.Directory}/{name} is gone. [green]Done.[/]" : $"5. [red]{SegmentName.Directory}/{name} is still there.[/]");
        return gone ? ExitCodes.Success : ExitCodes.Failed;
    }

    private static void Expect(Process peer, string line)
    {
        string? read = peer.StandardOutput.ReadLine();
        if (read != line)
        {
            string error = peer.StandardError.ReadToEnd();
            throw new MembraneException($"The demo's peer process said \"{read}\" instead of \"{line}\". {error}".Trim());
        }
    }
}
