using System.Diagnostics;

namespace Membrane.Tests.Infrastructure;

/// <summary>Waits for a condition in shared memory to hold (another process's progress), failing after a limit.</summary>
internal static class Eventually
{
    internal static void Holds(Func<bool> condition, string what, double seconds = 30)
    {
        var clock = Stopwatch.StartNew();
        var spinner = default(SpinWait);
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                throw new TimeoutException($"Not within {seconds} s: {what}");
            }
            spinner.SpinOnce(); // spins, then yields, then sleeps a millisecond at a time: polling, not a fixed wait
        }
    }
}
