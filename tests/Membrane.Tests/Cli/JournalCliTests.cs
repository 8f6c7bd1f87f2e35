using System.Globalization;
using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Cli;

/// <summary>The writer / reporter / demo verbs, run as the real CLI in child processes, held to their contracts.</summary>
public sealed class JournalCliTests : IDisposable
{
    private const string CsvHeader = "sequence,timestamp_ns,symbol,price,quantity";
    private static readonly string[] s_symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX"];
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Checks one CSV row field by field and returns its sequence.</summary>
    private static long AssertRow(string line)
    {
        string[] fields = line.Split(',');
        Assert.True(fields.Length == 5, $"not a five-field row: {line}");
        long nowNs = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
        long timestamp = long.Parse(fields[1], CultureInfo.InvariantCulture);
        Assert.InRange(timestamp, nowNs - (3600L * 1_000_000_000), nowNs);
        Assert.Contains(fields[2], s_symbols);
        Assert.True(double.Parse(fields[3], CultureInfo.InvariantCulture) > 0, line);
        Assert.InRange(long.Parse(fields[4], CultureInfo.InvariantCulture), 1, 999);
        return long.Parse(fields[0], CultureInfo.InvariantCulture);
    }

    /// <summary>The file holds the header, then exactly the sequences <paramref name="first"/>..<paramref name="end"/>-1 in order.</summary>
    private static void AssertEveryEntryOnce(string csv, long first, long end)
    {
        string[] lines = File.ReadAllLines(csv);
        Assert.Equal(CsvHeader, lines[0]);
        Assert.True(lines.Length - 1 == end - first, $"{csv}: {lines.Length - 1} rows, expected {end - first}");
        for (long sequence = first; sequence < end; sequence++)
        {
            Assert.Equal(sequence, AssertRow(lines[sequence - first + 1]));
        }
    }

    [Fact]
    public void Writers_killed_between_stamping_and_publishing_an_entry_lose_and_duplicate_nothing_for_a_reporter_keeping_pace()
    {
        const int Count = 20_000;
        string journal = _segments.NewName("cli-crashing-writers");
        string directory = _segments.NewDirectory("cli-crashing-writers-csv");
        string live = Path.Combine(directory, "live.csv"), oldest = Path.Combine(directory, "oldest.csv");
        (int created, _, string creationErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--capacity", Text(1 << 18));
        Assert.True(created == 0, creationErrors);
        var random = new Random(14); // seeded: a failure replays with the same crash points
        long total = 0;

        using (var reporter = Peer.Cli("reporter", "--journal", journal, "--id", "0", "--out", live))
        {
            for (int run = 0; run < 5; run++)
            {
                int crashAt = random.Next(1, Count);
                using var writer = Peer.CliCrashingAt($"journal.append.before-publish@{Text(crashAt)}", "writer", "--journal", journal, "--count", Text(Count));
                writer.ExpectCrash();
                total += crashAt; // the entry it died after stamping counts: readers may have taken it
            }
            using var view = Membrane.Journals.Journal.Open(journal);
            Assert.Equal(total, view.WritePosition);
            Eventually.Holds(() => view.Cursors()[0].CommittedPosition == total, "the reporter committing every entry");
            reporter.Terminate();
            Assert.True(reporter.ReadToExit().ExitCode == 0, reporter.Stderr);
        }

        AssertEveryEntryOnce(live, 0, total);
        (int replayed, _, string replayErrors) = Peer.RunCli("reporter", "--journal", journal, "--id", "1", "--out", oldest, "--until-idle", "0.2");
        Assert.True(replayed == 0, replayErrors);
        Assert.Equal(File.ReadAllBytes(live), File.ReadAllBytes(oldest)); // one content per sequence, whoever reads it

        // Every process of the journal has exited: gc still leaves it, with every reader's position.
        (int collected, string gcSaid, string gcErrors) = Peer.RunCli("gc", "--prefix", journal);
        Assert.True(collected == 0, gcErrors);
        Assert.Contains("Nothing to collect", gcSaid, StringComparison.Ordinal);
        using var kept = Membrane.Journals.Journal.Open(journal);
        Assert.Equal(total, kept.Cursors()[0].CommittedPosition);
    }

    [Fact]
    public void Two_writer_commands_on_a_journal_made_with_writers_many_give_one_reporter_every_entry_once()
    {
        const int Count = 100_000;
        string journal = _segments.NewName("cli-many-writers");
        string csv = Path.Combine(_segments.NewDirectory("cli-many-writers-csv"), "out.csv");
        (int created, string creation, string creationErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--writers", "many", "--capacity", Text(1 << 18));
        Assert.True(created == 0, creationErrors);
        Assert.Contains("up to 16 writers", creation, StringComparison.Ordinal);

        using (var reporter = Peer.Cli("reporter", "--journal", journal, "--id", "0", "--out", csv))
        {
            using var first = Peer.Cli("writer", "--journal", journal, "--count", Text(Count));
            using var second = Peer.Cli("writer", "--journal", journal, "--count", Text(Count));
            foreach (Peer writer in new[] { first, second })
            {
                (int exit, string said) = writer.ReadToExit();
                Assert.True(exit == 0, writer.Stderr);
                Assert.Contains($"wrote {Text(Count)} entries to {journal}", said, StringComparison.Ordinal);
                Assert.Contains("among other writers'", said, StringComparison.Ordinal);
            }
            using var view = Membrane.Journals.Journal.Open(journal);
            Assert.Equal(2 * Count, view.WritePosition);
            Eventually.Holds(() => view.Cursors()[0].CommittedPosition == 2 * Count, "the reporter committing every entry");
            reporter.Terminate();
            Assert.True(reporter.ReadToExit().ExitCode == 0, reporter.Stderr);
        }

        AssertEveryEntryOnce(csv, 0, 2 * Count);
    }

    [Fact]
    public void A_writer_command_killed_mid_copy_among_many_leaves_the_reporter_every_entry_of_the_survivor_and_no_torn_row()
    {
        const int Count = 100_000;
        int diesAt = new Random().Next(1_000, Count); // any append: every one of them must leave the same guarantee
        string journal = _segments.NewName("cli-many-crash");
        string csv = Path.Combine(_segments.NewDirectory("cli-many-crash-csv"), "out.csv");
        (int created, _, string creationErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--writers", "many", "--capacity", Text(1 << 18));
        Assert.True(created == 0, creationErrors);
        string summary;

        using (var reporter = Peer.Cli("reporter", "--journal", journal, "--id", "0", "--out", csv))
        {
            using var survivor = Peer.Cli("writer", "--journal", journal, "--count", Text(Count));
            using var dying = Peer.CliCrashingAt($"journal.append.mid-copy@{Text(diesAt)}", "writer", "--journal", journal, "--count", Text(Count));
            dying.ExpectCrash();
            (int exit, _) = survivor.ReadToExit();
            Assert.True(exit == 0, $"diesAt {diesAt}: {survivor.Stderr}");
            using var view = Membrane.Journals.Journal.Open(journal);
            Assert.Equal(Count + diesAt, view.WritePosition); // every claim made, the dead one's last among them
            Eventually.Holds(() => view.Cursors()[0].CommittedPosition == Count + diesAt, "the reporter committing every entry");
            reporter.Terminate();
            (int reporterExit, string reported) = reporter.ReadToExit();
            Assert.True(reporterExit == 0, reporter.Stderr);
            summary = reported;
        }

        string[] lines = File.ReadAllLines(csv);
        Assert.Equal(CsvHeader, lines[0]);
        // The one sequence the dead writer claimed and never completed (its slot may have been taken over since): said on a
        // line before the entry after it, or, when it is the last sequence claimed (the survivor had finished), not yet.
        string[] gaps = [.. lines.Where(l => l.StartsWith('#'))];
        long hole = Count + diesAt - 1;
        if (gaps.Length > 0)
        {
            System.Text.RegularExpressions.Match aborted = System.Text.RegularExpressions.Regex.Match(Assert.Single(gaps), @"^# aborted 1 \(sequences (\d+)\.\.(\d+)\)$");
            Assert.True(aborted.Success && aborted.Groups[1].Value == aborted.Groups[2].Value, $"diesAt {diesAt}: {gaps[0]}");
            hole = long.Parse(aborted.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        Assert.Equal(gaps.Length > 0, summary.Contains("skipped 1 aborted", StringComparison.Ordinal));
        long[] sequences = [.. lines.Skip(1).Where(l => !l.StartsWith('#')).Select(AssertRow)]; // every row whole: no torn quote
        Assert.Equal(Enumerable.Range(0, Count + diesAt).Select(i => (long)i).Where(i => i != hole), sequences);
    }

    [Fact]
    public void A_dead_writers_hole_at_the_end_is_committed_past_and_said_once_an_entry_follows_it_even_after_a_restart()
    {
        string journal = _segments.NewName("cli-many-tail");
        string csv = Path.Combine(_segments.NewDirectory("cli-many-tail-csv"), "out.csv");
        Assert.Equal(0, Peer.RunCli("writer", "--journal", journal, "--count", "1000", "--writers", "many").ExitCode);
        using (var dying = Peer.CliCrashingAt("journal.append.mid-copy@10", "writer", "--journal", journal, "--count", "100"))
        {
            dying.ExpectCrash(); // its 10th entry, sequence 1009, half written: the last sequence claimed
        }

        (int first, _, string firstErrors) = Peer.RunCli("reporter", "--journal", journal, "--id", "0", "--out", csv, "--until-idle", "0.5");
        Assert.True(first == 0, firstErrors);
        Assert.Equal(["sequence", .. Enumerable.Range(0, 1009).Select(i => Text(i))], File.ReadAllLines(csv).Select(l => l.Split(',')[0]));
        using (var view = Membrane.Journals.Journal.Open(journal))
        {
            Assert.Equal(1010, view.Cursors()[0].CommittedPosition); // past the hole, though no line says so yet
        }

        Assert.Equal(0, Peer.RunCli("writer", "--journal", journal, "--count", "5").ExitCode);
        (int second, _, string secondErrors) = Peer.RunCli("reporter", "--journal", journal, "--id", "0", "--out", csv, "--until-idle", "0.5");
        Assert.True(second == 0, secondErrors);
        string[] lines = File.ReadAllLines(csv);
        Assert.Equal("# aborted 1 (sequences 1009..1009)", lines[1010]); // the restart resumed from the file: the hole found again
        Assert.Equal(Enumerable.Range(1010, 5).Select(i => (long)i), lines[1011..].Select(AssertRow));
    }

    [Fact]
    public void Writer_and_reporter_keep_their_contracts_including_loss_lines_and_sigterm()
    {
        string journal = _segments.NewName("cli-journal");
        string csv = Path.Combine(_segments.NewDirectory("cli-journal-csv"), "out.csv");

        (int created, string creation, string creationErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--capacity", "16", "--readers", "2");
        Assert.True(created == 0, creationErrors);
        Assert.Contains("16 slots, 2 cursors, Overwrite", creation, StringComparison.Ordinal);

        // A reporter that found nothing still registers cursor 1 at sequence 0, so what is written next can lap it.
        (int registered, _, string registrationErrors) = Peer.RunCli("reporter", "--journal", journal, "--id", "1", "--out", csv, "--until-idle", "0.1");
        Assert.True(registered == 0, registrationErrors);
        Assert.Equal([CsvHeader], File.ReadAllLines(csv));

        (int wrote, string writing, string writingErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "100");
        Assert.True(wrote == 0, writingErrors);
        Assert.StartsWith($"wrote 100 entries to {journal} (sequences 0..99)", writing, StringComparison.Ordinal);

        // Cursor 1 was lapped: and says so on one comment line before the 16 entries still there.
        (int reported, string reporting, string reportingErrors) = Peer.RunCli("reporter", "--journal", journal, "--id", "1", "--out", csv, "--until-idle", "0.2");
        Assert.True(reported == 0, reportingErrors);
        Assert.Contains("wrote 16 rows", reporting, StringComparison.Ordinal);
        string[] lines = File.ReadAllLines(csv);
        Assert.Equal([CsvHeader, "# lost 84 (sequences 0..83)"], lines[..2]);
        Assert.Equal(Enumerable.Range(84, 16).Select(i => (long)i), lines[2..].Select(AssertRow));

        // SIGTERM: the reporter flushes, commits and exits 0; a restart appends, without a second header.
        using (var reporter = Peer.Cli("reporter", "--journal", journal, "--id", "1", "--out", csv))
        using (var writer = Peer.Cli("writer", "--journal", journal, "--rate", "1000"))
        {
            using var view = Membrane.Journals.Journal.Open(journal);
            Eventually.Holds(() => view.Cursors()[1].CommittedPosition >= 150, "the reporter committing entry 150");
            writer.Terminate();
            (int writerExit, string writerSaid) = writer.ReadToExit();
            Assert.True(writerExit == 0, writer.Stderr);
            Assert.StartsWith("wrote ", writerSaid, StringComparison.Ordinal);
            Eventually.Holds(() => view.Cursors()[1].CommittedPosition == view.WritePosition, "the reporter catching up");
            reporter.Terminate();
            Assert.True(reporter.ReadToExit().ExitCode == 0, reporter.Stderr);
            Assert.Equal(view.WritePosition, AssertRow(File.ReadAllLines(csv)[^1]) + 1);
            Assert.Single(File.ReadAllLines(csv), line => line == CsvHeader);
        }
    }

    [Fact]
    public void Inspect_json_of_a_journal_shows_its_writer_and_cursors()
    {
        string name = _segments.NewName("cli-journal-inspect");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 256, Cursors = 4, Policy = OverrunPolicy.Block });
        using JournalWriter writer = journal.CreateWriter();
        using JournalReader reader = journal.OpenReader("audit");
        writer.Append([1, 2, 3]);
        writer.Append([4]);

        (int exitCode, string stdout, string stderr) = Peer.RunCli("inspect", name, "--json");

        Assert.True(exitCode == 0, stderr);
        System.Text.Json.JsonElement shown = System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("journal");
        Assert.Equal(256, shown.GetProperty("capacity").GetInt64());
        Assert.Equal("block", shown.GetProperty("policy").GetString()); // as the writer's --policy spells it
        Assert.Equal(2, shown.GetProperty("write_position").GetInt64());
        Assert.Equal(Environment.ProcessId, shown.GetProperty("writer").GetProperty("pid").GetInt32());
        System.Text.Json.JsonElement cursor = Assert.Single(shown.GetProperty("cursors").EnumerateArray());
        Assert.Equal("audit", cursor.GetProperty("name").GetString());
        Assert.Equal(2, cursor.GetProperty("lag").GetInt64());
        Assert.Equal(Environment.ProcessId, cursor.GetProperty("reader").GetProperty("pid").GetInt32());
    }

    [Fact]
    public void Reporter_of_a_missing_journal_fails_naming_it()
    {
        string journal = _segments.NewName("cli-journal-missing");

        (int exitCode, _, string stderr) = Peer.RunCli("reporter", "--journal", journal, "--id", "0", "--out", Path.Combine(_segments.NewDirectory("csv"), "x.csv"));

        Assert.Equal(1, exitCode);
        Assert.Contains(journal, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reporter_killed_twenty_times_at_random_moments_still_writes_every_entry_exactly_once()
    {
        const int Entries = 30_000;
        const int Kills = 20;
        string journal = _segments.NewName("cli-journal-kills");
        string csv = Path.Combine(_segments.NewDirectory("cli-journal-kills-csv"), "out.csv");
        using var view = Membrane.Journals.Journal.Create(journal, new JournalOptions { Capacity = 1024, Cursors = 1, Policy = OverrunPolicy.Block });
        string[] reporterArguments = ["reporter", "--journal", journal, "--id", "0", "--out", csv];

        // The first reporter registers cursor 0 before any entry exists, so the Block writer waits for it from entry 0.
        var reporter = Peer.Cli(reporterArguments);
        Eventually.Holds(() => view.Cursors()[0] is { Registered: true, OwnerAlive: true }, "the reporter registering cursor 0");
        using var writer = Peer.Cli("writer", "--journal", journal, "--count", Text(Entries));

        var random = new Random();
        long[] killPoints = [.. Enumerable.Range(0, Kills).Select(_ => (long)random.Next(1, Entries - 2000)).Order()];
        try
        {
            foreach (long killPoint in killPoints)
            {
                // Killed once its progress passes a random point: mid-row, mid-flush or mid-commit, whatever it is doing then.
                Eventually.Holds(() => view.Cursors()[0].CommittedPosition >= killPoint, $"the reporter committing entry {killPoint}");
                reporter.KillHard();
                reporter.Dispose();
                reporter = Peer.Cli(reporterArguments);
            }
            reporter.KillHard();
            reporter.Dispose();
            reporter = Peer.Cli([.. reporterArguments, "--until-idle", "1"]);

            (int writerExit, string writerSaid) = writer.ReadToExit();
            Assert.True(writerExit == 0, writer.Stderr);
            Assert.StartsWith($"wrote {Entries} entries", writerSaid, StringComparison.Ordinal);
            Assert.True(reporter.ReadToExit().ExitCode == 0, reporter.Stderr);
        }
        finally
        {
            reporter.Dispose();
        }

        AssertEveryEntryOnce(csv, 0, Entries);
    }

    [Fact]
    public void Demo_runs_a_writer_and_two_reporters_and_removes_its_journal()
    {
        string directory = _segments.NewDirectory("cli-demo");

        using Peer demo = Peer.Cli("demo", "--seconds", "2", "--rate", "20000", "--out", directory);
        _segments.Track(string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{demo.Pid}")); // removed even if the demo is killed
        (int exitCode, string stdout, string stderr) = demo.RunToEnd();

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("Removed the journal", stdout, StringComparison.Ordinal);
        // Off a terminal the live table is plain lines, one a second, never redrawn.
        Assert.DoesNotContain('\u001b', stdout);
        Assert.InRange(stdout.Split('\n').Count(l => l.Contains(" s  writer ", StringComparison.Ordinal) && l.Contains("reader 1 ", StringComparison.Ordinal)), 1, 2);
        int reports = 0;
        foreach (string csv in Directory.GetFiles(directory, "output_*.csv").Order())
        {
            string[] lines = File.ReadAllLines(csv);
            Assert.Equal(CsvHeader, lines[0]);
            Assert.True(lines.Length > 1000, $"{csv} has only {lines.Length} lines");
            reports++;
        }
        Assert.Equal(2, reports);
        string journal = "membrane-demo-" + new string([.. stdout.Split("membrane-demo-")[1].TakeWhile(char.IsAsciiDigit)]);
        Assert.False(File.Exists(TestSegments.ShmPath(journal)), $"{journal} is left behind");
    }

    [Fact]
    public void Demo_stopped_by_SIGTERM_stops_its_processes_checks_every_row_they_committed_and_removes_its_journal()
    {
        string directory = _segments.NewDirectory("cli-demo-stopped");
        using Peer demo = Peer.Cli("demo", "--seconds", "600", "--rate", "5000", "--out", directory);
        string journal = _segments.Track(string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{demo.Pid}"));
        string[] csv = [Path.Combine(directory, "output_0.csv"), Path.Combine(directory, "output_1.csv")];
        // Stopped mid-run: once both reporters have committed rows (a reporter commits every 4,096).
        Eventually.Holds(() => BothReportersCommitted(journal), "both reporters committing rows");
        demo.Terminate();
        (int exitCode, string stdout) = demo.ReadToExit();

        Assert.True(exitCode == 0, stdout + demo.Stderr);
        Assert.Contains("Summary (interrupted)", stdout, StringComparison.Ordinal);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.Contains("(every entry, once)", StringComparison.Ordinal)));
        foreach (string file in csv)
        {
            string[] lines = File.ReadAllLines(file);
            Assert.Equal(CsvHeader, lines[0]);
            Assert.Equal(Enumerable.Range(0, lines.Length - 1).Select(i => (long)i), lines[1..].Select(AssertRow));
        }
        Assert.False(File.Exists(TestSegments.ShmPath(journal)), $"{journal} is left behind");
    }

    [Fact]
    public void Demo_killed_with_SIGKILL_takes_its_writer_and_reporters_with_it_and_each_reporter_commits_every_row_it_wrote()
    {
        string directory = _segments.NewDirectory("cli-demo-killed");
        using Peer demo = Peer.Cli("demo", "--seconds", "600", "--rate", "5000", "--out", directory);
        string journal = _segments.Track(string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{demo.Pid}"));
        Eventually.Holds(() => BothReportersCommitted(journal), "both reporters committing rows");
        var view = Membrane.Journals.Journal.Open(journal); // a live reference, so that the cursors can be read afterwards
        // The demo's three processes, as the journal records who holds its writer role and its cursors.
        ProcessIdentity[] children = [.. view.Cursors().Select(c => c.Owner).Prepend(view.Writer).Select(p => Assert.NotNull(p))];
        Assert.All(children, child => Assert.True(child.IsAlive(), $"pid {child} is not running"));

        demo.KillHard(); // no handler runs: only the kernel closing its end of the children's standard input tells them

        Eventually.Holds(() => !children.Any(child => child.IsAlive()),
            $"the demo's writer and reporters (pids {string.Join(", ", children)}) stopping after it died");
        foreach (CursorInfo cursor in view.Cursors())
        {
            string[] lines = File.ReadAllLines(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"output_{cursor.Id}.csv")));
            Assert.Equal(CsvHeader, lines[0]);
            Assert.Equal(Enumerable.Range(0, lines.Length - 1).Select(i => (long)i), lines[1..].Select(AssertRow));
            Assert.True(cursor.CommittedPosition == lines.Length - 1,
                $"reporter {cursor.Id} committed {cursor.CommittedPosition} entries and wrote {lines.Length - 1} rows: it did not stop gracefully");
        }
        view.Dispose(); // the last live process with the journal open: the demo made it to go with that
        Assert.False(File.Exists(TestSegments.ShmPath(journal)), $"{journal} outlived every process that used it");
    }

    private static bool BothReportersCommitted(string journal)
    {
        if (!File.Exists(TestSegments.ShmPath(journal)))
        {
            return false;
        }
        using var view = Membrane.Journals.Journal.Open(journal);
        return view.Cursors().All(c => c.CommittedPosition > 0);
    }
}
