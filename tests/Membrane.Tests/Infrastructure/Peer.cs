using System.Diagnostics;
using System.Text;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// A real child process: the test peer (<c>Membrane.TestPeer</c>) or the <c>membrane</c> CLI. Tests wait for the
/// lines it prints (events, never sleeps), close its stdin to let it finish, or kill it with SIGKILL.
/// </summary>
internal sealed class Peer : IDisposable
{
    private static readonly TimeSpan s_lineTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private Task<string?>? _pendingLine;

    private Peer(string assembly, IEnumerable<string> arguments, string? crashAt = null, IReadOnlyList<string>? launcher = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(launcher is [string program, ..] ? program : DotnetHost)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Without this, every peer a test kills (SIGKILL: no shutdown) leaves its runtime's debugger pipes and
        // diagnostics socket in /tmp for good. The peers are never debugged or traced.
        info.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach ((string variable, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[variable] = value;
        }
        if (crashAt is not null)
        {
            info.Environment[Diagnostics.CrashPoints.EnvironmentVariable] = crashAt;
        }
        foreach (string word in launcher?.Skip(1) ?? [])
        {
            info.ArgumentList.Add(word);
        }
        if (launcher is not null)
        {
            info.ArgumentList.Add(DotnetHost);
        }
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + assembly);
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.BeginErrorReadLine();
    }

    internal int Pid => _process.Id;

    /// <summary>Starts the test peer: <c>Membrane.TestPeer VERB SEGMENT ARGS...</c>.</summary>
    internal static Peer Start(string verb, string segment, params string[] arguments) =>
        new("Membrane.TestPeer.dll", [verb, segment, .. arguments]);

    /// <summary>Starts the test peer with <paramref name="environment"/> added to its environment.</summary>
    internal static Peer StartWith(IReadOnlyDictionary<string, string> environment, string verb, string segment, params string[] arguments) =>
        new("Membrane.TestPeer.dll", [verb, segment, .. arguments], environment: environment);

    /// <summary>Starts the test peer with a crash point armed: <paramref name="crashAt"/> is <c>point[@n]</c>.</summary>
    internal static Peer StartCrashingAt(string crashAt, string verb, string segment, params string[] arguments) =>
        new("Membrane.TestPeer.dll", [verb, segment, .. arguments], crashAt);

    /// <summary>The exit code of a process that SIGKILL ended (128 + 9), as .NET reports it.</summary>
    internal const int KilledBySigkill = 137;

    /// <summary>Waits for the process to die at its armed crash point; fails the test with its output if it exits otherwise.</summary>
    internal void ExpectCrash()
    {
        int exitCode = WaitForExit();
        Assert.True(exitCode == KilledBySigkill, $"pid {Pid} was to die by SIGKILL at its crash point, but exited with {exitCode}. stderr: {Stderr}");
    }

    /// <summary>
    /// Starts the test peer through <paramref name="launcher"/> (a program and its arguments, such as
    /// <c>unshare --pid --fork</c>), which runs it as its child. <see cref="Pid"/> is then the launcher's.
    /// </summary>
    internal static Peer StartUnder(IReadOnlyList<string> launcher, string verb, string segment, params string[] arguments) =>
        new("Membrane.TestPeer.dll", [verb, segment, .. arguments], launcher: launcher);

    /// <summary>Starts the membrane CLI with these arguments.</summary>
    internal static Peer Cli(params string[] arguments) => new("Membrane.Cli.dll", arguments);

    /// <summary>Starts the membrane CLI with a crash point armed: <paramref name="crashAt"/> is <c>point[@n]</c>.</summary>
    internal static Peer CliCrashingAt(string crashAt, params string[] arguments) => new("Membrane.Cli.dll", arguments, crashAt);

    /// <summary>Runs the CLI to completion: exit code, stdout, stderr.</summary>
    internal static (int ExitCode, string Stdout, string Stderr) RunCli(params string[] arguments)
    {
        using Peer cli = Cli(arguments);
        return cli.RunToEnd();
    }

    /// <summary>Runs the CLI to completion with <paramref name="environment"/> added to its environment.</summary>
    internal static (int ExitCode, string Stdout, string Stderr) RunCliWith(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        using var cli = new Peer("Membrane.Cli.dll", arguments, environment: environment);
        return cli.RunToEnd();
    }

    /// <summary>Closes stdin and waits for the process to finish: exit code, stdout, stderr.</summary>
    internal (int ExitCode, string Stdout, string Stderr) RunToEnd()
    {
        _process.StandardInput.Close();
        string stdout = _process.StandardOutput.ReadToEndAsync().WaitAsync(s_lineTimeout).GetAwaiter().GetResult();
        int exitCode = WaitForExit();
        return (exitCode, stdout, Stderr);
    }

    internal string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The lines it printed that are waiting to be read, without waiting for more than <paramref name="wait"/> (for a failure's message).</summary>
    internal string PrintedSoFar(TimeSpan wait)
    {
        var lines = new List<string>();
        while (true)
        {
            _pendingLine ??= _process.StandardOutput.ReadLineAsync();
            if (!_pendingLine.Wait(wait) || _pendingLine.Result is not string line)
            {
                return string.Join(" | ", lines);
            }
            lines.Add(line);
            _pendingLine = null;
        }
    }

    /// <summary>The next line the process prints; fails the test with its stderr if none comes in time.</summary>
    internal string? ReadLine()
    {
        _pendingLine ??= _process.StandardOutput.ReadLineAsync();
        if (!_pendingLine.Wait(s_lineTimeout))
        {
            throw new TimeoutException($"pid {Pid} printed nothing for {s_lineTimeout.TotalSeconds} s. stderr: {Stderr}");
        }
        string? line = _pendingLine.Result;
        _pendingLine = null;
        return line;
    }

    /// <summary>Waits for the process to print exactly <paramref name="expected"/>.</summary>
    internal void Expect(string expected)
    {
        string? line = ReadLine();
        Assert.True(line == expected, $"pid {Pid}: expected \"{expected}\", got \"{line}\". stderr: {Stderr}");
    }

    internal void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes its stdin (the peer's cue to detach and exit) and waits for it to exit.</summary>
    internal int Finish()
    {
        _process.StandardInput.Close();
        return WaitForExit();
    }

    /// <summary>kill -9, then reap it, so that it is truly gone (not a zombie) when this returns.</summary>
    internal void KillHard()
    {
        _process.Kill(entireProcessTree: false); // SIGKILL on Linux
        _process.WaitForExit();
    }

    /// <summary>SIGTERM: the graceful stop the CLI's long-running verbs honour.</summary>
    internal void Terminate() => Assert.Equal(0, Native.Interop.Kill(Pid, 15));

    /// <summary>Everything it prints until it exits, then its exit code.</summary>
    internal (int ExitCode, string Stdout) ReadToExit()
    {
        string stdout = _process.StandardOutput.ReadToEndAsync().WaitAsync(s_lineTimeout).GetAwaiter().GetResult();
        return (WaitForExit(), stdout);
    }

    internal int WaitForExit()
    {
        if (!_process.WaitForExit(s_lineTimeout))
        {
            _process.Kill();
            throw new TimeoutException($"pid {Pid} did not exit within {s_lineTimeout.TotalSeconds} s. stderr: {Stderr}");
        }
        _process.WaitForExit(); // drains the redirected stderr
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            KillHard();
        }
        _process.Dispose();
    }

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
