using System.Diagnostics;

namespace Membrane.Benchmarks.Harness;

/// <summary>
/// This benchmark program started again as a peer process with a role: it says "ready" once set up, starts its
/// work on the line "go", stops on "stop" where the role runs until told, and answers with one result line.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process) => _process = process;

    internal static ChildProcess Start(params string[] arguments)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            info.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var child = new ChildProcess(Process.Start(info)!);
        string? first = child._process.StandardOutput.ReadLine();
        if (first != "ready")
        {
            child.Dispose();
            throw new InvalidOperationException($"the {arguments[0]} peer did not start: {first}");
        }
        return child;
    }

    internal void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Its result line, then it exits.</summary>
    internal string Result()
    {
        string line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the peer died without a result");
        _process.WaitForExit();
        return line;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
        _process.Dispose();
    }

    /// <summary>In the child: say ready, wait for go.</summary>
    internal static void ReadyThenWaitForGo()
    {
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        _ = Console.In.ReadLine();
    }

    internal static void Answer(string result)
    {
        Console.Out.WriteLine(result);
        Console.Out.Flush();
    }
}
