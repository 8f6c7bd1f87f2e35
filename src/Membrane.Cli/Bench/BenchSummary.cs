using System.Globalization;

namespace Membrane.Cli.Bench;

/// <summary>
/// One transport, mode and size over every run of the matrix: the median of each figure, and the spread (the lowest
/// and highest of the runs) of the figures that headline it, so that one lucky or unlucky run is never the headline.
/// </summary>
internal sealed record BenchSummary(string Transport, string Mode, int Size)
{
    /// <summary>Runs that gave figures.</summary>
    public int Runs { get; init; }

    /// <summary>Medians over the runs (for <see cref="MaxNs"/>: the highest of them).</summary>
    public long? P50Ns { get; init; }

    public long? P50NsMin { get; init; }

    public long? P50NsMax { get; init; }

    public long? P99Ns { get; init; }

    public long? P999Ns { get; init; }

    public long? MaxNs { get; init; }

    public double? MsgsPerS { get; init; }

    public double? MsgsPerSMin { get; init; }

    public double? MsgsPerSMax { get; init; }

    public double? BytesPerS { get; init; }

    /// <summary>The median, worst and best of the runs' ratios to the Unix socket of the same run (above 1 is better).</summary>
    public double? VsUnixSocket { get; init; }

    public double? VsUnixSocketMin { get; init; }

    public double? VsUnixSocketMax { get; init; }

    /// <summary>The median and worst of the runs' ratios to the floor of the same run (1 is the floor; above 1 is better).</summary>
    public double? VsFloor { get; init; }

    public double? VsFloorMin { get; init; }

    /// <summary>The median of the runs' parks and wakes per message, and the most parks per message of any run.</summary>
    public double? ParksPerMessage { get; init; }

    public double? ParksPerMessageMax { get; init; }

    public double? WakesPerMessage { get; init; }

    /// <summary>The most threads any run gained for its pending asynchronous reads (the scale row), or null.</summary>
    public int? ExtraThreadsMax { get; init; }

    /// <summary>The first error of a run that failed, or null when every run gave figures.</summary>
    public string? Error { get; init; }

    internal bool Succeeded => Error is null;

    /// <summary>The summaries of <paramref name="results"/> (already compared), in the order the matrix ran them.</summary>
    internal static IReadOnlyList<BenchSummary> Of(IReadOnlyList<BenchResult> results) =>
        [.. results.GroupBy(r => (r.Transport, r.Mode, r.Size)).Select(group => Summarise(group.Key, [.. group]))];

    private static BenchSummary Summarise((string Transport, string Mode, int Size) key, IReadOnlyList<BenchResult> runs)
    {
        var good = runs.Where(r => r.Succeeded).ToList();
        return new BenchSummary(key.Transport, key.Mode, key.Size)
        {
            Runs = good.Count,
            Error = runs.FirstOrDefault(r => !r.Succeeded) is BenchResult failed ? $"run {failed.Run}: {failed.Error}" : null,
            P50Ns = Whole(Median(good, r => r.P50Ns)),
            P50NsMin = Whole(Pick(good, r => r.P50Ns, Enumerable.Min)),
            P50NsMax = Whole(Pick(good, r => r.P50Ns, Enumerable.Max)),
            P99Ns = Whole(Median(good, r => r.P99Ns)),
            P999Ns = Whole(Median(good, r => r.P999Ns)),
            MaxNs = Whole(Pick(good, r => r.MaxNs, Enumerable.Max)),
            MsgsPerS = Median(good, r => r.MsgsPerS),
            MsgsPerSMin = Pick(good, r => r.MsgsPerS, Enumerable.Min),
            MsgsPerSMax = Pick(good, r => r.MsgsPerS, Enumerable.Max),
            BytesPerS = Median(good, r => r.BytesPerS),
            VsUnixSocket = Rounded(Median(good, r => r.VsUnixSocket)),
            VsUnixSocketMin = Pick(good, r => r.VsUnixSocket, Enumerable.Min),
            VsUnixSocketMax = Pick(good, r => r.VsUnixSocket, Enumerable.Max),
            VsFloor = Rounded(Median(good, r => r.VsFloor)),
            VsFloorMin = Pick(good, r => r.VsFloor, Enumerable.Min),
            ParksPerMessage = Median(good, r => r.ParksPerMessage),
            ParksPerMessageMax = Pick(good, r => r.ParksPerMessage, Enumerable.Max),
            WakesPerMessage = Median(good, r => r.WakesPerMessage),
            ExtraThreadsMax = (int?)Pick(good, r => r.ExtraThreads, Enumerable.Max),
        };
    }

    /// <summary>The median of the figures the runs have (the mean of the middle two for an even count), or null if none has one.</summary>
    internal static double? Median(IEnumerable<BenchResult> runs, Func<BenchResult, double?> figure)
    {
        double[] values = [.. runs.Select(figure).OfType<double>().Order()];
        return values.Length == 0 ? null : values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    /// <summary>A ratio to four significant figures: the runs' ratios have no more, and a mean of two would print fifteen.</summary>
    private static double? Rounded(double? ratio) =>
        ratio is double r ? double.Parse(r.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : null;

    /// <summary>The lowest or highest (<paramref name="pick"/>) of the figures the runs have, or null if none has one.</summary>
    private static double? Pick(IEnumerable<BenchResult> runs, Func<BenchResult, double?> figure, Func<IEnumerable<double>, double> pick)
    {
        double[] values = [.. runs.Select(figure).OfType<double>()];
        return values.Length == 0 ? null : pick(values);
    }

    /// <summary>A figure in whole nanoseconds (the median of two may fall between them).</summary>
    private static long? Whole(double? figure) => figure is double value ? (long)Math.Round(value) : null;
}
