using System.Diagnostics;
using System.Text;

namespace Membrane.Tests.Infrastructure;

/// <summary>A program of the machine's (mount, dotnet), run to completion with its output captured, within a time limit.</summary>
internal static class ExternalCommand
{
    /// <summary>Runs <paramref name="program"/>; its exit code and everything it printed (stdout, then stderr).</summary>
    internal static (int ExitCode, string Output) Run(string program, IEnumerable<string> arguments, TimeSpan limit,
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
        return (process.ExitCode, new StringBuilder(stdout.Result).Append(stderr.Result).ToString());
    }

    /// <summary><see cref="Run"/>, failing the test with the output unless it exits 0; returns the output.</summary>
    internal static string Succeed(string program, IEnumerable<string> arguments, TimeSpan limit,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        (int exitCode, string output) = Run(program, arguments, limit, workingDirectory, environment);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} exited {exitCode}: {output}");
        return output;
    }
}
