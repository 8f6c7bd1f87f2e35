using System.Diagnostics;

namespace Membrane.Cli;

/// <summary>Starts this same program again as a child (the demo's peers), whether it runs as an apphost or under dotnet.</summary>
internal static class SelfProcess
{
    internal static ProcessStartInfo StartInfo(params string[] arguments)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program this is.");
        var info = new ProcessStartInfo
        {
            FileName = host,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Under `dotnet membrane.dll` the process is dotnet itself: name the assembly again.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        }
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return info;
    }
}
