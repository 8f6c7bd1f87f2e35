using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;

namespace Membrane.Cli.Bench;

/// <summary>
/// Writes the results: results.md (for people), results.csv and results.json (for tools: one row per transport, mode
/// and size, medians over the runs and their spread), runs.csv (every measurement of every run) and the charts.
/// </summary>
internal static class BenchReport
{
    internal const string MarkdownFile = "results.md";
    internal const string CsvFile = "results.csv";
    internal const string JsonFile = "results.json";
    internal const string RunsFile = "runs.csv";

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes every file into <paramref name="directory"/> and returns their paths.</summary>
    internal static IReadOnlyList<string> Write(string directory, IReadOnlyList<BenchSummary> summaries, IReadOnlyList<BenchResult> runs, MachineInfo machine, string method)
    {
        Directory.CreateDirectory(directory);
        var rows = summaries.Select(r => ReportRow.From(r, machine)).ToList();
        string json = Path.Combine(directory, JsonFile);
        File.WriteAllText(json, JsonSerializer.Serialize(rows, s_json));
        string csv = Path.Combine(directory, CsvFile);
        WriteCsv(csv, rows);
        string runsCsv = Path.Combine(directory, RunsFile);
        WriteCsv(runsCsv, runs.Select(RunRow.From));
        IReadOnlyList<string> charts = BenchCharts.Write(directory, summaries);
        string markdown = Path.Combine(directory, MarkdownFile);
        File.WriteAllText(markdown, Markdown(summaries, machine, method, charts));
        return [markdown, csv, json, runsCsv, .. charts];
    }

    private static void WriteCsv<T>(string path, IEnumerable<T> rows)
    {
        using var writer = new StreamWriter(path);
        using CsvWriter csvWriter = CsvWriter.Create(writer, new CsvWriterOptions(), leaveOpen: false);
        csvWriter.WriteRecords(rows);
    }

    private static string Markdown(IReadOnlyList<BenchSummary> results, MachineInfo machine, string method, IReadOnlyList<string> charts)
    {
        var text = new StringBuilder();
        text.AppendLine("# membrane bench").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Machine:** {machine.OneLine}").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Method:** {method}").AppendLine();
        text.AppendLine("## Latency (round trip, ns; medians over the runs)").AppendLine();
        text.AppendLine("| transport | size | p50 | p50 spread | p99 | p99.9 | max | runs | vs Unix socket | vs floor (worst) | parks/msg |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.LatencyMode))
        {
            text.AppendLine(r.Succeeded
                ? $"| {r.Transport} | {Format.Size(r.Size)} | {r.P50Ns:N0} | {Format.Spread(r.P50NsMin, r.P50NsMax)} | {r.P99Ns:N0} | {r.P999Ns:N0} | {r.MaxNs:N0} | {r.Runs} | {Format.Ratio(r.VsUnixSocket)} | {Format.FloorRatio(r)} | {Format.Parks(r)} |"
                : $"| {r.Transport} | {Format.Size(r.Size)} | failed: {r.Error} | | | | | | | | |");
        }
        text.AppendLine().AppendLine("## Throughput (one way; medians over the runs)").AppendLine();
        text.AppendLine("| transport | size | messages/s | spread | MB/s | runs | vs Unix socket | vs floor (worst) | parks/msg |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.ThroughputMode))
        {
            text.AppendLine(r.Succeeded
                ? $"| {r.Transport} | {Format.Size(r.Size)} | {r.MsgsPerS:N0} | {Format.Spread(r.MsgsPerSMin, r.MsgsPerSMax)} | {r.BytesPerS / 1e6:N1} | {r.Runs} | {Format.Ratio(r.VsUnixSocket)} | {Format.FloorRatio(r)} | {Format.Parks(r)} |"
                : $"| {r.Transport} | {Format.Size(r.Size)} | failed: {r.Error} | | | | | | |");
        }
        if (results.Any(r => r.Mode == BenchResult.WakeMode))
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## Asynchronous reads at scale (one-way wake latency, ns; medians over the runs)").AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"A peer process awaits one read on each of {ScaleBenchLink.Rings:N0} rings; the bench writes one message to each, {ScaleBenchLink.Pace.TotalMilliseconds} ms apart. Threads: what the pending reads cost the peer (the most of any run).").AppendLine();
            text.AppendLine("| transport | size | p50 | p50 spread | p99 | p99.9 | max | runs | threads |");
            text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (BenchSummary r in results.Where(r => r.Mode == BenchResult.WakeMode))
            {
                text.AppendLine(r.Succeeded
                    ? $"| {r.Transport} | {Format.Size(r.Size)} | {r.P50Ns:N0} | {Format.Spread(r.P50NsMin, r.P50NsMax)} | {r.P99Ns:N0} | {r.P999Ns:N0} | {r.MaxNs:N0} | {r.Runs} | {r.ExtraThreadsMax} |"
                    : $"| {r.Transport} | {Format.Size(r.Size)} | failed: {r.Error} | | | | | | |");
            }
        }
        text.AppendLine();
        foreach (string chart in charts)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"![{Path.GetFileNameWithoutExtension(chart)}]({Path.GetFileName(chart)})").AppendLine();
        }
        return text.ToString();
    }
}

/// <summary>How sizes and ratios read in reports and tables.</summary>
internal static class Format
{
    internal static string Size(long bytes) => bytes switch
    {
        >= 1 << 20 when bytes % (1 << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1 << 10 when bytes % (1 << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };

    internal static string Ratio(double? ratio) => ratio is double r ? r.ToString("0.0#", CultureInfo.InvariantCulture) + "×" : "–";

    /// <summary>The lowest and highest of the runs, or a dash for a single run.</summary>
    internal static string Spread(double? min, double? max) =>
        min is double low && max is double high && low != high ? $"{Short(low)}–{Short(high)}" : "–";

    /// <summary>Three significant figures and a k, M or G: the spread is read at a glance, the median carries every digit.</summary>
    internal static string Short(double value) => value switch
    {
        >= 1e9 => (value / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "G",
        >= 1e6 => (value / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (value / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "k",
        _ => value.ToString("0.##", CultureInfo.InvariantCulture),
    };

    /// <summary>Parks per message: the median of the runs and, in brackets, the most of any run.</summary>
    internal static string Parks(BenchSummary r) =>
        r.ParksPerMessage is double median
            ? string.Create(CultureInfo.InvariantCulture, $"{median:0.###} ({r.ParksPerMessageMax ?? median:0.###})")
            : "–";

    /// <summary>The median ratio to the floor and, in brackets, the worst run's.</summary>
    internal static string FloorRatio(BenchSummary r) =>
        r.VsFloor is double median ? $"{median.ToString("0.00", CultureInfo.InvariantCulture)}× ({Ratio(r.VsFloorMin)})" : "–";
}

/// <summary>A summary as the files carry it: flat, with the machine on every row so that no row travels without it.</summary>
[CsvRecord]
internal sealed partial record ReportRow(
    [property: CsvColumn("transport")] string Transport,
    [property: CsvColumn("mode")] string Mode,
    [property: CsvColumn("size")] int Size,
    [property: CsvColumn("p50_ns")] long? P50Ns,
    [property: CsvColumn("p99_ns")] long? P99Ns,
    [property: CsvColumn("p999_ns")] long? P999Ns,
    [property: CsvColumn("max_ns")] long? MaxNs,
    [property: CsvColumn("msgs_per_s")] double? MsgsPerS,
    [property: CsvColumn("bytes_per_s")] double? BytesPerS,
    [property: CsvColumn("runs")] int Runs,
    [property: CsvColumn("p50_ns_min")] long? P50NsMin,
    [property: CsvColumn("p50_ns_max")] long? P50NsMax,
    [property: CsvColumn("msgs_per_s_min")] double? MsgsPerSMin,
    [property: CsvColumn("msgs_per_s_max")] double? MsgsPerSMax,
    [property: CsvColumn("vs_unix_socket")] double? VsUnixSocket,
    [property: CsvColumn("vs_unix_socket_min")] double? VsUnixSocketMin,
    [property: CsvColumn("vs_unix_socket_max")] double? VsUnixSocketMax,
    [property: CsvColumn("vs_floor")] double? VsFloor,
    [property: CsvColumn("vs_floor_min")] double? VsFloorMin,
    [property: CsvColumn("parks_per_message")] double? ParksPerMessage,
    [property: CsvColumn("parks_per_message_max")] double? ParksPerMessageMax,
    [property: CsvColumn("wakes_per_message")] double? WakesPerMessage,
    [property: CsvColumn("extra_threads_max")] int? ExtraThreadsMax,
    [property: CsvColumn("error")] string? Error,
    [property: CsvColumn("cpu")] string Cpu,
    [property: CsvColumn("cores")] int Cores,
    [property: CsvColumn("kernel")] string Kernel,
    [property: CsvColumn("dotnet")] string Dotnet,
    [property: CsvColumn("build")] string Build,
    [property: CsvColumn("measured_at")] DateTimeOffset MeasuredAt)
{
    internal static ReportRow From(BenchSummary r, MachineInfo m) => new(
        r.Transport, r.Mode, r.Size, r.P50Ns, r.P99Ns, r.P999Ns, r.MaxNs, Round(r.MsgsPerS), Round(r.BytesPerS), r.Runs,
        r.P50NsMin, r.P50NsMax, Round(r.MsgsPerSMin), Round(r.MsgsPerSMax), r.VsUnixSocket, r.VsUnixSocketMin, r.VsUnixSocketMax,
        r.VsFloor, r.VsFloorMin, r.ParksPerMessage, r.ParksPerMessageMax, r.WakesPerMessage, r.ExtraThreadsMax, r.Error, m.Cpu, m.Cores, m.Kernel, m.Dotnet, m.Build, m.When);

    internal static double? Round(double? value) => value is double v ? Math.Round(v) : null;
}

/// <summary>One measurement of one run as runs.csv carries it (the machine is in results.csv).</summary>
[CsvRecord]
internal sealed partial record RunRow(
    [property: CsvColumn("run")] int Run,
    [property: CsvColumn("transport")] string Transport,
    [property: CsvColumn("mode")] string Mode,
    [property: CsvColumn("size")] int Size,
    [property: CsvColumn("p50_ns")] long? P50Ns,
    [property: CsvColumn("p99_ns")] long? P99Ns,
    [property: CsvColumn("p999_ns")] long? P999Ns,
    [property: CsvColumn("max_ns")] long? MaxNs,
    [property: CsvColumn("msgs_per_s")] double? MsgsPerS,
    [property: CsvColumn("bytes_per_s")] double? BytesPerS,
    [property: CsvColumn("samples")] long? Samples,
    [property: CsvColumn("vs_unix_socket")] double? VsUnixSocket,
    [property: CsvColumn("vs_floor")] double? VsFloor,
    [property: CsvColumn("parks_per_message")] double? ParksPerMessage,
    [property: CsvColumn("wakes_per_message")] double? WakesPerMessage,
    [property: CsvColumn("extra_threads")] int? ExtraThreads,
    [property: CsvColumn("error")] string? Error)
{
    internal static RunRow From(BenchResult r) => new(
        r.Run, r.Transport, r.Mode, r.Size, r.P50Ns, r.P99Ns, r.P999Ns, r.MaxNs, ReportRow.Round(r.MsgsPerS), ReportRow.Round(r.BytesPerS),
        r.Samples, r.VsUnixSocket, r.VsFloor, r.ParksPerMessage, r.WakesPerMessage, r.ExtraThreads, r.Error);
}
