using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Membrane.Cli.Bench;

/// <summary>What the figures were measured on: they mean little without it.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, string Kernel, string Os, string Dotnet, string Build, DateTimeOffset When)
{
    /// <summary>The most cores' worth of other load sampled before a run (<see cref="MachineLoad"/>); null if never sampled.</summary>
    internal double? BusyCores { get; init; }

    /// <summary>Whether this program was built with the JIT optimiser off (a Debug build): its figures mean little.</summary>
    internal static bool IsDebugBuild =>
        typeof(MachineInfo).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true;

    internal static MachineInfo Current() => new(
        Cpu: CpuModel(),
        Cores: Environment.ProcessorCount,
        Kernel: ReadOr("/proc/sys/kernel/osrelease", RuntimeInformation.OSDescription),
        Os: OsName(),
        Dotnet: RuntimeInformation.FrameworkDescription,
        Build: IsDebugBuild ? "Debug (JIT optimiser off: not representative; run with -c Release)" : "Release",
        When: DateTimeOffset.UtcNow);

    internal string OneLine => $"{Cpu}, {Cores} cores; Linux {Kernel} ({Os}); {Dotnet}, {Build} build; {When:yyyy-MM-dd HH:mm} UTC"
        + (BusyCores is double busy ? string.Create(CultureInfo.InvariantCulture, $"; load besides the bench before its runs: at most {busy:0.00} of {Cores} cores") : "");

    private static string CpuModel()
    {
        foreach (string line in ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and > 0)
            {
                return line[(colon + 1)..].Trim();
            }
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string OsName()
    {
        foreach (string line in ReadLines("/etc/os-release"))
        {
            if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
            {
                return line["PRETTY_NAME=".Length..].Trim('"');
            }
        }
        return RuntimeInformation.OSDescription;
    }

    private static string ReadOr(string path, string fallback) => File.Exists(path) ? File.ReadAllText(path).Trim() : fallback;

    private static IEnumerable<string> ReadLines(string path) => File.Exists(path) ? File.ReadLines(path) : [];
}
