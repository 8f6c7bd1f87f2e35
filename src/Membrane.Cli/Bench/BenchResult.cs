using System.Globalization;

namespace Membrane.Cli.Bench;

/// <summary>
/// One measurement: a transport, a mode and a message size in one run of the matrix, with either figures or the error
/// that stopped it (a failed measurement reports no figure). Serialised as is to runs.csv.
/// </summary>
internal sealed record BenchResult(string Transport, string Mode, int Size)
{
    internal const string LatencyMode = "latency";
    internal const string ThroughputMode = "throughput";

    /// <summary>One-way wake latency of many pending asynchronous reads (the scale row): compared with no baseline.</summary>
    internal const string WakeMode = "wake";

    /// <summary>The transport its ratio to a Unix socket is taken against: <c>unix</c>, or for a fan-in row the Unix-socket server with as many clients.</summary>
    public string Baseline { get; init; } = BenchTransport.BaselineName;

    /// <summary>Which run of the matrix (1 to <c>--repeat</c>) this measurement belongs to.</summary>
    public int Run { get; init; } = 1;

    /// <summary>Round-trip percentiles in nanoseconds (latency rows).</summary>
    public long? P50Ns { get; init; }

    public long? P99Ns { get; init; }

    public long? P999Ns { get; init; }

    public long? MaxNs { get; init; }

    /// <summary>Round trips recorded (latency) or messages counted (throughput).</summary>
    public long? Samples { get; init; }

    /// <summary>One-way messages and bytes per second (throughput rows).</summary>
    public double? MsgsPerS { get; init; }

    public double? BytesPerS { get; init; }

    /// <summary>
    /// How many times better than the Unix socket of the same run and size: its p50 over this p50 (latency), this
    /// rate over its rate (throughput). Above 1 is better.
    /// </summary>
    public double? VsUnixSocket { get; init; }

    /// <summary>The same ratio to the bare shared-memory floor (<c>shm-floor</c>) of the same run and size: 1 is the floor.</summary>
    public double? VsFloor { get; init; }

    /// <summary>
    /// Times either process parked a waiter in the kernel, and woke one, per message (per round trip for latency), over
    /// the whole exchange, warm-up included (see <see cref="WaitCounters"/>).
    /// </summary>
    public double? ParksPerMessage { get; init; }

    public double? WakesPerMessage { get; init; }

    /// <summary>Threads the bench's process gained for its pending asynchronous reads (the scale row), or null.</summary>
    public int? ExtraThreads { get; init; }

    /// <summary>Why the run gave no figures, or null.</summary>
    public string? Error { get; init; }

    internal bool Succeeded => Error is null;

    /// <summary>The figure the ratios compare: lower p50 or higher rate is better.</summary>
    internal double? Figure => Mode switch { LatencyMode => P50Ns, ThroughputMode => MsgsPerS, _ => null };

    /// <summary>
    /// Every measurement with its ratios to the Unix socket and to the floor measured in the same run, for the same mode
    /// and size (none where that baseline did not run or failed).
    /// </summary>
    internal static IReadOnlyList<BenchResult> Compared(IReadOnlyList<BenchResult> results)
    {
        BenchResult? Baseline(BenchResult r, string transport) =>
            results.FirstOrDefault(b => b.Transport == transport && b.Run == r.Run && b.Mode == r.Mode && b.Size == r.Size && b.Succeeded);
        return [.. results.Select(r => r with
        {
            VsUnixSocket = r.RatioTo(Baseline(r, r.Baseline)),
            VsFloor = r.RatioTo(Baseline(r, BenchTransport.FloorName)),
        })];
    }

    /// <summary>How many times better than <paramref name="baseline"/> (a row of the same mode and size); above 1 is better.</summary>
    private double? RatioTo(BenchResult? baseline) =>
        baseline?.Figure is double b && Figure is double f && f > 0 && b > 0
            ? double.Parse((Mode == LatencyMode ? b / f : f / b).ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
            : null;
}
