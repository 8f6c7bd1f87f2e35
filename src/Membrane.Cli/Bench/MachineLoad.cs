using System.Globalization;

namespace Membrane.Cli.Bench;

/// <summary>
/// How much of the machine something else is using. The spinning transports need both ends on a core of their own:
/// beside a process that keeps a core busy, they measure a third to a half of what they do on an idle machine, and
/// nothing in the figures says so. The bench samples this before each run of its matrix, warns, and reports it.
/// </summary>
internal static class MachineLoad
{
    /// <summary>The load above which the bench warns: a quarter of a core kept busy by something else.</summary>
    internal const double BusyThreshold = 0.25;

    private static readonly TimeSpan s_window = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Cores' worth of time the machine spent busy (or lost to the hypervisor: steal) over half a second, while this
    /// process sleeps; null where <c>/proc/stat</c> cannot be read.
    /// </summary>
    internal static double? BusyCores()
    {
        if (Read() is not (long busyBefore, long totalBefore))
        {
            return null;
        }
        Thread.Sleep(s_window); // the sample is a window of time: nothing to wait for but the clock
        if (Read() is not (long busyAfter, long totalAfter) || totalAfter <= totalBefore)
        {
            return null;
        }
        return (busyAfter - busyBefore) * (double)Environment.ProcessorCount / (totalAfter - totalBefore);
    }

    /// <summary>The machine-wide busy and total times of <c>/proc/stat</c>'s first line, in clock ticks.</summary>
    private static (long Busy, long Total)? Read()
    {
        // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is counted in user already.
        string? line = File.Exists("/proc/stat") ? File.ReadLines("/proc/stat").FirstOrDefault() : null;
        if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
        {
            return null;
        }
        string[] fields = line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8)
        {
            return null;
        }
        long[] ticks = [.. fields.Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture))];
        long total = ticks.Sum();
        return (total - ticks[3] - ticks[4], total); // all but idle and iowait
    }
}
