using System.Diagnostics;

namespace Membrane.Tests.Infrastructure;

/// <summary>A program of the machine's (mount, dotnet, python3), run to completion with its output captured, within a time limit.</summary>
internal static class ExternalCommand
{
    /// <summary>Runs <paramref name="program"/>; its exit code and what it printed on stdout and on stderr.</summary>
    internal static (int ExitCode, string Stdout, string Stderr) Run(string program, IEnumerable<string> arguments, TimeSpan limit,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach ((string variable, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[variable] = value;
        }
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + program);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', info.ArgumentList)} did not finish within {limit.TotalSeconds} s: {stdout.Result}{stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary><see cref="Run"/>, failing the test with what it printed unless it exits 0; returns its stdout.</summary>
    internal static string Succeed(string program, IEnumerable<string> arguments, TimeSpan limit,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        (int exitCode, string stdout, string stderr) = Run(program, arguments, limit, workingDirectory, environment);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} exited {exitCode}: {stdout}{stderr}");
        return stdout;
    }
}
