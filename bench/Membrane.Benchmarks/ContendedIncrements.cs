using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Arcs;
using Membrane.Benchmarks.Harness;
using Membrane.Segments;

namespace Membrane.Benchmarks;

/// <summary>
/// Two processes incrementing one shared counter as fast as they can, through IpcArc and through a named Mutex
/// guarding a counter in a shared segment, for a fixed time: increments per second, median of several rounds,
/// both measured in the same run. BenchmarkDotNet measures one process, so this is a harness of its own:
/// <c>dotnet run -c Release --project bench/Membrane.Benchmarks -- contended [seconds-per-round] [rounds]</c>.
/// </summary>
internal static class ContendedIncrements
{
    internal static int Run(string[] args)
    {
        if (args is ["contender", var kind, var name, var seconds])
        {
            // Both processes start counting together: "ready" once attached, then wait for "go".
            ChildProcess.ReadyThenWaitForGo();
            ChildProcess.Answer(Contend(kind, name, double.Parse(seconds, CultureInfo.InvariantCulture), out _).ToString(CultureInfo.InvariantCulture));
            return 0;
        }
        double roundSeconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        Console.WriteLine($"Two processes incrementing one counter, {rounds} rounds of {roundSeconds} s each; {Environment.ProcessorCount} cores.");
        var arc = new List<double>();
        var mutex = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            arc.Add(Round("arc", roundSeconds));
            mutex.Add(Round("mutex", roundSeconds));
        }
        double arcMedian = Statistics.Median(arc), mutexMedian = Statistics.Median(mutex);
        Console.WriteLine($"| method | increments/s (median) | min | max |");
        Console.WriteLine($"|---|---:|---:|---:|");
        Console.WriteLine($"| named Mutex (baseline) | {mutexMedian:N0} | {mutex.Min():N0} | {mutex.Max():N0} |");
        Console.WriteLine($"| IpcArc Lock | {arcMedian:N0} | {arc.Min():N0} | {arc.Max():N0} |");
        Console.WriteLine($"IpcArc / named Mutex: {arcMedian / mutexMedian:0.0}x");
        return 0;
    }

    private static double Round(string kind, double seconds)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-contended-{Environment.ProcessId}-{kind}");
        using var arc = IpcArc<long>.Create(name, 0);
        using var counter = SharedSegment.Create(name + "-counter", 64, new SegmentOptions { RemoveWhenUnused = true });
        using var peer = ChildProcess.Start("contender", kind, name, seconds.ToString(CultureInfo.InvariantCulture));
        peer.Send("go");
        long mine = Contend(kind, name, seconds, out double elapsed);
        long theirs = long.Parse(peer.Result(), CultureInfo.InvariantCulture);
        long total = kind == "arc" ? arc.Read() : Volatile.Read(ref MemoryMarshal.AsRef<long>(counter.Payload));
        if (total != mine + theirs)
        {
            throw new InvalidOperationException($"lost updates: {total} != {mine} + {theirs}");
        }
        return (mine + theirs) / elapsed;
    }

    /// <summary>Increments for <paramref name="seconds"/>; both processes start within a few ms of each other.</summary>
    private static long Contend(string kind, string name, double seconds, out double elapsed)
    {
        using var arc = IpcArc<long>.Open(name);
        using var mutex = new Mutex(false, name);
        using var counter = SharedSegment.Open(name + "-counter");
        ref long shared = ref MemoryMarshal.AsRef<long>(counter.Payload);
        long count = 0;
        var clock = Stopwatch.StartNew();
        long end = (long)(seconds * Stopwatch.Frequency);
        while (clock.ElapsedTicks < end)
        {
            for (int i = 0; i < 256; i++)
            {
                if (kind == "arc")
                {
                    using IpcArcGuard<long> guard = arc.Lock();
                    guard.Value++;
                }
                else
                {
                    mutex.WaitOne();
                    shared++;
                    mutex.ReleaseMutex();
                }
            }
            count += 256;
        }
        elapsed = clock.Elapsed.TotalSeconds;
        return count;
    }
}
