using ScottPlot;

namespace Membrane.Cli.Bench;

/// <summary>
/// Two charts a reader can look at instead of the tables: p50 latency and throughput by message size, log scales; each
/// point is the median of the runs, with a bar from the lowest to the highest run.
/// </summary>
internal static class BenchCharts
{
    internal const string LatencyFile = "latency-by-size.png";
    internal const string ThroughputFile = "throughput-by-size.png";

    internal static IReadOnlyList<string> Write(string directory, IReadOnlyList<BenchSummary> results)
    {
        var written = new List<string>();
        Chart(results, BenchResult.LatencyMode, r => (r.P50Ns, r.P50NsMin, r.P50NsMax), "Round trip p50 (ns, log scale)", "Latency by message size (lower is better)",
            Path.Combine(directory, LatencyFile), written);
        Chart(results, BenchResult.ThroughputMode, r => (r.BytesPerS, r.MsgsPerSMin * r.Size, r.MsgsPerSMax * r.Size), "Bytes per second (log scale)", "One-way throughput by message size (higher is better)",
            Path.Combine(directory, ThroughputFile), written);
        return written;
    }

    private static void Chart(IReadOnlyList<BenchSummary> results, string mode, Func<BenchSummary, (double? Median, double? Min, double? Max)> figure, string yLabel, string title,
        string path, List<string> written)
    {
        var rows = results.Where(r => r.Mode == mode && r.Succeeded && figure(r).Median > 0).ToList();
        if (rows.Count == 0)
        {
            return;
        }
        var plot = new Plot();
        int[] sizes = [.. rows.Select(r => r.Size).Distinct().Order()];
        var palette = new ScottPlot.Palettes.Category10();
        int series = 0;
        foreach (IGrouping<string, BenchSummary> transport in rows.GroupBy(r => r.Transport))
        {
            var points = transport.OrderBy(r => r.Size).ToList();
            var line = plot.Add.Scatter(points.Select(r => Math.Log2(r.Size)).ToArray(), points.Select(r => Math.Log10(figure(r).Median!.Value)).ToArray());
            line.Color = palette.GetColor(series++); // set, not taken from the plot: each spread bar below would take a colour of its own
            line.LegendText = transport.Key;
            line.LineWidth = 2;
            line.MarkerSize = 7;
            foreach (BenchSummary point in points)
            {
                if (figure(point) is (_, double low, double high) && low > 0 && high > low)
                {
                    var spread = plot.Add.Line(Math.Log2(point.Size), Math.Log10(low), Math.Log2(point.Size), Math.Log10(high));
                    spread.LineWidth = 6;
                    spread.LinePattern = LinePattern.Solid;
                    spread.Color = line.Color.WithAlpha(0.35);
                }
            }
        }
        // Log scales by plotting logarithms; ticks are labelled with the values themselves.
        plot.Axes.Bottom.SetTicks([.. sizes.Select(s => Math.Log2(s))], [.. sizes.Select(s => Format.Size(s))]);
        var yTicks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Format.Short(Math.Pow(10, y)),
        };
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Bottom.Label.Text = "message size";
        plot.Axes.Left.Label.Text = yLabel;
        plot.Title(title);
        plot.ShowLegend(Edge.Right);
        plot.SavePng(path, 900, 560);
        written.Add(path);
    }
}
