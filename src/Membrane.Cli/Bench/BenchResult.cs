using System.Globalization;

namespace Membrane.Cli.Bench;

/// <summary>
/// One row of the results: a transport, a mode and a message size, with either figures or the error that stopped
/// it (a failed run reports no figure). Serialised as is to JSON (snake_case) and CSV.
/// </summary>
internal sealed record BenchResult(string Transport, string Mode, int Size)
{
    internal const string LatencyMode = "latency";
    internal const string ThroughputMode = "throughput";

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

    /// <summary>Why the run gave no figures, or null.</summary>
    public string? Error { get; init; }

    internal bool Succeeded => Error is null;

    /// <summary>The figure the ratio compares: lower p50 or higher rate is better.</summary>
    internal double? Figure => Mode == LatencyMode ? P50Ns : MsgsPerS;

    /// <summary>The ratio to <paramref name="baseline"/> (a row of the same mode and size), when both ran.</summary>
    internal BenchResult ComparedTo(BenchResult? baseline) =>
        this with
        {
            VsUnixSocket = baseline?.Figure is double b && Figure is double f && f > 0 && b > 0
                ? double.Parse((Mode == LatencyMode ? b / f : f / b).ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
                : null,
        };
}
