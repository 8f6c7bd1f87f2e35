using System.Diagnostics;
using System.Globalization;
using Membrane.Journals;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Cli;

/// <summary>
/// clients/python/membrane_journal.py, a reader written in another language from docs/LAYOUT.md, against journals a
/// .NET writer fills: every entry with the same bytes, losses and gaps reported as a .NET reader reports them.
/// </summary>
public sealed class PythonReaderTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    private static string Script => RepositoryFiles.PathOf("clients/python/membrane_journal.py");

    private static Process StartPython(params string[] arguments)
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Script);
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start python3");
    }

    private static (int Exit, string[] Lines, string Errors) RunPython(params string[] arguments) => RunPython(environment: null, arguments);

    private static (int Exit, string[] Lines, string Errors) RunPython(IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        (int exit, string stdout, string stderr) = ExternalCommand.Run("python3", [Script, .. arguments], TimeSpan.FromSeconds(60), environment: environment);
        return (exit, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), stderr);
    }

    /// <summary>Every entry as the Python reader prints it, read through a .NET reader.</summary>
    private static List<string> EntriesAsLines(string name, long count)
    {
        using var journal = Membrane.Journals.Journal.Open(name);
        using var reader = journal.OpenReader(journal.CursorCount - 1, StartPosition.Oldest);
        byte[] entry = new byte[journal.SlotSize];
        var lines = new List<string>();
        for (long i = 0; i < count; i++)
        {
            Assert.True(reader.TryRead(entry, out JournalRecord record));
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{record.Sequence},{record.Length},{Convert.ToHexStringLower(entry.AsSpan(0, record.Length))}"));
        }
        return lines;
    }

    [Fact]
    public void It_reads_a_journal_in_the_directory_MEMBRANE_DIR_names_as_the_writer_did()
    {
        using var tmpfs = TestMount.Tmpfs("python-dir", 32 << 20);
        string name = _segments.NewName("python-dir");
        var environment = new Dictionary<string, string> { [Membrane.Segments.SegmentName.DirectoryVariable] = tmpfs.Path };
        Assert.Equal(0, Peer.RunCliWith(environment, "writer", "--journal", name, "--count", "1000").ExitCode);

        (int exit, string[] lines, string errors) = RunPython(environment, name, "--from", "oldest");

        Assert.True(exit == 0, errors);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => i.ToString(CultureInfo.InvariantCulture)), lines.Select(l => l.Split(',')[0]));
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
        (int missing, _, string refusal) = RunPython(name, "--from", "oldest"); // without the variable: /dev/shm, where it is not
        Assert.NotEqual(0, missing);
        Assert.Contains(name, refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void It_prints_every_entry_a_dotnet_writer_wrote_with_the_same_bytes()
    {
        string name = _segments.NewName("python-all");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", name, "--count", "1000").ExitCode);
        (int exit, string[] lines, string errors) = RunPython(name, "--from", "oldest");
        Assert.True(exit == 0, errors);
        Assert.Equal(EntriesAsLines(name, 1000), lines);
    }

    [Fact]
    public async Task It_follows_a_journal_while_a_dotnet_writer_fills_it()
    {
        string name = _segments.NewName("python-follow");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", name, "--count", "0").ExitCode);
        using Process python = StartPython(name, "--from", "oldest", "--follow");
        try
        {
            Assert.Equal(0, Peer.RunCli("writer", "--journal", name, "--count", "5000", "--rate", "20000").ExitCode);
            var lines = new List<string>();
            while (lines.Count < 5000)
            {
                string? line = await python.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.NotNull(line);
                lines.Add(line);
            }
            Assert.Equal(EntriesAsLines(name, 5000), lines);
        }
        finally
        {
            python.Kill();
            python.WaitForExit();
        }
    }

    [Fact]
    public void It_reports_losses_gaps_and_holes_as_a_dotnet_reader_does()
    {
        string lapped = _segments.NewName("python-lapped");
        using (var journal = Membrane.Journals.Journal.Create(lapped, new JournalOptions { Capacity = 16, Cursors = 1 }))
        using (JournalWriter writer = journal.CreateWriter())
        {
            for (long i = 0; i < 100; i++)
            {
                writer.Append(i);
            }
        }
        (int exit, string[] lines, string errors) = RunPython(lapped, "--from", "0");
        Assert.True(exit == 0, errors);
        Assert.Equal("# lost 84", lines[0]);
        Assert.Equal(17, lines.Length);
        Assert.StartsWith("84,8,5400000000000000", lines[1], StringComparison.Ordinal);

        string gaps = _segments.NewName("python-gaps");
        using (var journal = Membrane.Journals.Journal.Create(gaps, new JournalOptions { Capacity = 64, Cursors = 1 }))
        using (JournalWriter writer = journal.CreateWriter())
        {
            writer.Append(0L);
            writer.AppendGap(3, JournalGap.Lost);
            writer.AppendGap(2, JournalGap.Aborted);
            writer.Append(6L);
        }
        (exit, lines, errors) = RunPython(gaps);
        Assert.True(exit == 0, errors);
        Assert.Equal(["0,8,0000000000000000", "# lost 3", "# aborted 2", "6,8,0600000000000000"], lines);

        (exit, _, errors) = RunPython(_segments.NewName("python-missing"));
        Assert.Equal(1, exit);
        Assert.Contains("No such segment", errors, StringComparison.Ordinal);
    }
}
