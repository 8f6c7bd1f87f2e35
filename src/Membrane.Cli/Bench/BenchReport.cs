using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;

namespace Membrane.Cli.Bench;

/// <summary>Writes a run's results: results.md (for people), results.csv and results.json (for tools), and the charts.</summary>
internal static class BenchReport
{
    internal const string MarkdownFile = "results.md";
    internal const string CsvFile = "results.csv";
    internal const string JsonFile = "results.json";

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes every file into <paramref name="directory"/> and returns their paths.</summary>
    internal static IReadOnlyList<string> Write(string directory, IReadOnlyList<BenchResult> results, MachineInfo machine, string method)
    {
        Directory.CreateDirectory(directory);
        var rows = results.Select(r => ReportRow.From(r, machine)).ToList();
        string json = Path.Combine(directory, JsonFile);
        File.WriteAllText(json, JsonSerializer.Serialize(rows, s_json));
        string csv = Path.Combine(directory, CsvFile);
        using (var writer = new StreamWriter(csv))
        using (CsvWriter csvWriter = CsvWriter.Create(writer, new CsvWriterOptions(), leaveOpen: false))
        {
            csvWriter.WriteRecords(rows);
        }
        IReadOnlyList<string> charts = BenchCharts.Write(directory, results);
        string markdown = Path.Combine(directory, MarkdownFile);
        File.WriteAllText(markdown, Markdown(results, machine, method, charts));
        return [markdown, csv, json, .. charts];
    }

    private static string Markdown(IReadOnlyList<BenchResult> results, MachineInfo machine, string method, IReadOnlyList<string> charts)
    {
        var text = new StringBuilder();
        text.AppendLine("# membrane bench").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Machine:** {machine.OneLine}").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Method:** {method}").AppendLine();
        text.AppendLine("## Latency (round trip, ns)").AppendLine();
        text.AppendLine("| transport | size | p50 | p99 | p99.9 | max | samples | vs Unix socket |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (BenchResult r in results.Where(r => r.Mode == BenchResult.LatencyMode))
        {
            text.AppendLine(r.Succeeded
                ? $"| {r.Transport} | {Format.Size(r.Size)} | {r.P50Ns:N0} | {r.P99Ns:N0} | {r.P999Ns:N0} | {r.MaxNs:N0} | {r.Samples:N0} | {Format.Ratio(r.VsUnixSocket)} |"
                : $"| {r.Transport} | {Format.Size(r.Size)} | failed: {r.Error} | | | | | |");
        }
        text.AppendLine().AppendLine("## Throughput (one way)").AppendLine();
        text.AppendLine("| transport | size | messages/s | MB/s | messages | vs Unix socket |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (BenchResult r in results.Where(r => r.Mode == BenchResult.ThroughputMode))
        {
            text.AppendLine(r.Succeeded
                ? $"| {r.Transport} | {Format.Size(r.Size)} | {r.MsgsPerS:N0} | {r.BytesPerS / 1e6:N1} | {r.Samples:N0} | {Format.Ratio(r.VsUnixSocket)} |"
                : $"| {r.Transport} | {Format.Size(r.Size)} | failed: {r.Error} | | | |");
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
}

/// <summary>A result as the files carry it: flat, with the machine on every row so that no row travels without it.</summary>
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
    [property: CsvColumn("samples")] long? Samples,
    [property: CsvColumn("vs_unix_socket")] double? VsUnixSocket,
    [property: CsvColumn("error")] string? Error,
    [property: CsvColumn("cpu")] string Cpu,
    [property: CsvColumn("cores")] int Cores,
    [property: CsvColumn("kernel")] string Kernel,
    [property: CsvColumn("dotnet")] string Dotnet,
    [property: CsvColumn("build")] string Build,
    [property: CsvColumn("measured_at")] DateTimeOffset MeasuredAt)
{
    internal static ReportRow From(BenchResult r, MachineInfo m) => new(
        r.Transport, r.Mode, r.Size, r.P50Ns, r.P99Ns, r.P999Ns, r.MaxNs,
        r.MsgsPerS is double rate ? Math.Round(rate) : null, r.BytesPerS is double bytes ? Math.Round(bytes) : null,
        r.Samples, r.VsUnixSocket, r.Error, m.Cpu, m.Cores, m.Kernel, m.Dotnet, m.Build, m.When);
}
