using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Tests.Infrastructure;
using JournalVerbs = Membrane.TestPeer.JournalVerbs;

namespace Membrane.Tests.Journals;

/// <summary>A journal with many writers (<see cref="JournalWriters.Many"/>), written by real processes, some killed mid-append.</summary>
public sealed class ManyWritersTests : IDisposable
{
    /// <summary>Longer than any wait the protocol allows (a dead writer's hole is skipped within about 50 ms): reaching it is a hang.</summary>
    private static readonly TimeSpan s_noHang = TimeSpan.FromSeconds(20);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A small Block journal: writers wrap the ring many times and wait for the reader, which commits as it goes.</summary>
    private Membrane.Journals.Journal CreateMany(string prefix, OverrunPolicy policy = OverrunPolicy.Block, int maxWriters = 16) =>
        Membrane.Journals.Journal.Create(_segments.NewName(prefix), new JournalOptions
        {
            Capacity = 1024, SlotSize = 64, Writers = JournalWriters.Many, MaxWriters = maxWriters, Policy = policy,
        });

    [Fact]
    public void Three_writer_processes_give_one_total_order_with_no_gap_and_each_writers_entries_in_its_order()
    {
        const long count = 200_000;
        using Membrane.Journals.Journal journal = CreateMany("many-three");
        using JournalReader reader = journal.OpenReader("all", StartPosition.Oldest);
        using Peer first = Peer.Start("journal-write-tagged", journal.Name, "0", Text(count));
        using Peer second = Peer.Start("journal-write-tagged", journal.Name, "1", Text(count));
        using Peer third = Peer.Start("journal-write-tagged", journal.Name, "2", Text(count));

        Received received = Receive(reader, writers: 3, total: 3 * count, () => Diagnose(journal, first, second, third));

        Assert.Equal([count, count, count], received.PerWriter);
        Assert.Equal(0, received.Aborted);
        Assert.Equal(3 * count, reader.Position); // sequences 0 .. 3 count - 1, each delivered once
        foreach (Peer peer in new[] { first, second, third })
        {
            peer.Expect("writing");
            peer.Expect($"written {Text(count)}");
            Assert.Equal(0, peer.Finish());
        }
        Assert.Equal(3 * count, journal.WritePosition);
        Assert.Empty(journal.ReadWriters());
    }

    [Theory]
    [InlineData(CrashPoints.JournalAppendAfterClaim)]
    [InlineData(CrashPoints.JournalAppendMidCopy)]
    public void A_writer_killed_mid_append_leaves_one_hole_that_readers_skip_as_aborted_and_nothing_else_is_lost(string point)
    {
        const long count = 100_000;
        const long diesAt = 50_000; // in its 50,000th append: the entry of index 49,999
        using Membrane.Journals.Journal journal = CreateMany("many-crash");
        using JournalReader reader = journal.OpenReader("all", StartPosition.Oldest);
        using Peer first = Peer.Start("journal-write-tagged", journal.Name, "0", Text(count));
        using Peer second = Peer.Start("journal-write-tagged", journal.Name, "1", Text(count));
        using Peer dying = Peer.StartCrashingAt($"{point}@{Text(diesAt)}", "journal-write-tagged", journal.Name, "2", Text(count));

        Received received = Receive(reader, writers: 3, total: (2 * count) + (diesAt - 1), () => Diagnose(journal, first, second, dying));
        long aborted = received.Aborted, end = (2 * count) + diesAt;
        dying.ExpectCrash();
        Assert.Equal(0, first.Finish());
        Assert.Equal(0, second.Finish());
        // Read before any other writer comes: a new writer may take the dead one's slot over.
        JournalWriterInfo dead = Assert.Single(journal.ReadWriters());
        Assert.False(dead.Alive);
        Assert.NotNull(dead.Claiming); // the claim it died holding, never completed
        if (aborted == 0)
        {
            // The dying writer was the slowest (a loaded machine): its hole is the last sequence, reported with the
            // entry after it. One more entry from here brings the report.
            using (JournalWriter closing = journal.CreateWriter())
            {
                closing.Append(MemoryMarshal.AsBytes(new long[8].AsSpan()));
            }
            Assert.True(reader.TryRead(new byte[64], s_noHang, CancellationToken.None, out JournalRecord closingRecord), "no entry after the hole");
            aborted += closingRecord.AbortedBefore;
            end++;
        }

        Assert.Equal([count, count, diesAt - 1], received.PerWriter);
        Assert.Equal(1, aborted);
        Assert.Equal(1, reader.TotalAborted);
        Assert.Equal(0, reader.TotalLost);
        Assert.Equal(end, reader.Position); // every sequence claimed was delivered or skipped
    }

    [Fact]
    public async Task ReadAllAsync_skips_a_dead_writers_hole_and_says_so_on_the_next_entry()
    {
        using Membrane.Journals.Journal journal = CreateMany("many-async", OverrunPolicy.Overwrite);
        using JournalReader reader = journal.OpenReader("all", StartPosition.Oldest);
        reader.SpinBeforeParking = TimeSpan.Zero; // park at once: the hole is found by a parked wait's slice
        using (Peer dying = Peer.StartCrashingAt($"{CrashPoints.JournalAppendAfterClaim}@11", "journal-write-tagged", journal.Name, "0", "100"))
        {
            dying.Expect("writing");
            dying.ExpectCrash();
        }
        using (JournalWriter writer = journal.CreateWriter())
        {
            Span<long> entry = stackalloc long[8];
            JournalVerbs.FillTagged(entry, 1, 0);
            Assert.Equal(11, writer.Append(MemoryMarshal.AsBytes(entry)));
        }

        var entries = new List<JournalEntry>();
        using var timeout = new CancellationTokenSource(s_noHang);
        await foreach (JournalEntry entry in reader.ReadAllAsync(timeout.Token))
        {
            Assert.True(JournalVerbs.IsWholeTagged(MemoryMarshal.Cast<byte, long>(entry.Data.Span)), $"entry {entry.Sequence} is torn");
            entries.Add(entry with { Data = default });
            if (entry.Sequence == 11)
            {
                break;
            }
        }

        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (long)i), 11], entries.Select(e => e.Sequence));
        Assert.Equal(1, entries[^1].AbortedBefore);
        Assert.Equal(0, entries.Sum(e => e.LostBefore));
    }

    [Fact]
    public async Task Writers_on_four_threads_of_one_process_each_take_a_slot_and_every_entry_arrives_once()
    {
        const int threads = 4;
        const long count = 50_000;
        using Membrane.Journals.Journal journal = CreateMany("many-threads");
        using JournalReader reader = journal.OpenReader("all", StartPosition.Oldest);
        Task[] writing = [.. Enumerable.Range(0, threads).Select(id => Task.Factory.StartNew(() =>
        {
            using JournalWriter writer = journal.CreateWriter();
            var entry = new long[8];
            for (long i = 0; i < count; i++)
            {
                JournalVerbs.FillTagged(entry, id, i);
                writer.Append(MemoryMarshal.AsBytes(entry.AsSpan()));
            }
        }, TaskCreationOptions.LongRunning))];

        Received received = Receive(reader, writers: threads, total: threads * count, () => Diagnose(journal));

        await Task.WhenAll(writing).WaitAsync(s_noHang);
        Assert.Equal(Enumerable.Repeat(count, threads), received.PerWriter);
        Assert.Equal(0, received.Aborted);
    }

    [Fact]
    public void Every_writer_slot_held_by_a_live_writer_refuses_one_more_and_a_freed_slot_is_taken_again()
    {
        using Membrane.Journals.Journal journal = CreateMany("many-full", maxWriters: 2);
        using JournalWriter first = journal.CreateWriter();
        JournalWriter second = journal.CreateWriter();

        var refused = Assert.Throws<SegmentInUseException>(() => journal.CreateWriter());

        Assert.Contains(journal.Name, refused.Message, StringComparison.Ordinal);
        Assert.Contains("2 live writers", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, journal.ReadWriters().Count);
        Assert.Equal(0, first.Append([1]));
        (int exitCode, string stdout, string stderr) = Peer.RunCli("inspect", journal.Name, "--json");
        Assert.True(exitCode == 0, stderr);
        System.Text.Json.JsonElement shown = System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("journal");
        Assert.Equal("many", shown.GetProperty("writers_mode").GetString());
        Assert.Equal(2, shown.GetProperty("max_writers").GetInt32());
        System.Text.Json.JsonElement[] writers = [.. shown.GetProperty("writers").EnumerateArray()];
        Assert.Equal([0, 1], writers.Select(w => w.GetProperty("slot").GetInt32()));
        Assert.All(writers, w => Assert.Equal(Environment.ProcessId, w.GetProperty("process").GetProperty("pid").GetInt32()));
        Assert.Equal(0, writers[0].GetProperty("claiming").GetInt64()); // the one sequence it wrote
        (exitCode, stdout, stderr) = Peer.RunCli("inspect", journal.Name);
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("writers: up to 2, 2 live", stdout, StringComparison.Ordinal);
        second.Dispose();
        using JournalWriter third = journal.CreateWriter();
        Assert.Equal(1, third.Append([7]));
        Assert.Equal(2, journal.MaxWriters);
        Assert.Equal(JournalWriters.Many, journal.Writers);
    }

    [Fact]
    public void Options_outside_their_ranges_are_refused_naming_the_journal()
    {
        string name = _segments.NewName("many-options");

        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Membrane.Journals.Journal.Create(name, new JournalOptions { Writers = JournalWriters.Many, MaxWriters = 1025 }));
        var unknown = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Membrane.Journals.Journal.Create(name, new JournalOptions { Writers = (JournalWriters)7 }));

        Assert.Contains(name, tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("MaxWriters", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("Writers", unknown.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    /// <summary>The journal's writers and the writer processes, for a failure's message.</summary>
    private static string Diagnose(Membrane.Journals.Journal journal, params Peer[] peers) =>
        $"write position {journal.WritePosition}; writers [{string.Join("; ", journal.ReadWriters())}]; "
        + $"attached [{string.Join(", ", Membrane.Segments.SegmentCatalog.Inspect(journal.Name).Processes.Select(p => $"{p.Process.Pid}{(p.IsAlive ? "" : " dead")}"))}]; "
        + $"processes [{string.Join("; ", peers.Select(p => $"pid {p.Pid} {ThreadStates(p.Pid)}: printed '{p.PrintedSoFar(TimeSpan.FromMilliseconds(200))}', stderr '{p.Stderr.Trim()}'"))}]";

    /// <summary>Each thread's state and kernel wait channel, from /proc (empty once the process is gone).</summary>
    private static string ThreadStates(int pid)
    {
        try
        {
            return string.Join(" ", Directory.GetDirectories($"/proc/{pid}/task").Select(t =>
                $"{Path.GetFileName(t)}:{File.ReadAllText(Path.Combine(t, "stat")).Split(") ")[1][0]}/{File.ReadAllText(Path.Combine(t, "wchan"))}/{File.ReadAllText(Path.Combine(t, "comm")).Trim()}"));
        }
        catch (IOException)
        {
            return "(gone)";
        }
    }

    /// <summary>What a reader got: each writer's entries (checked whole and in that writer's order) and the holes it skipped.</summary>
    private sealed record Received(long[] PerWriter, long Aborted);

    /// <summary>
    /// Reads <paramref name="total"/> entries, each waited for at most <see cref="s_noHang"/>, checking each is whole, is
    /// the next of its writer, and that no sequence is skipped but as a hole; commits every 256 entries (Block journals).
    /// </summary>
    private static Received Receive(JournalReader reader, int writers, long total, Func<string> diagnose)
    {
        var next = new long[writers];
        long aborted = 0;
        long expected = reader.Position;
        var entry = new long[8];
        for (long i = 0; i < total; i++)
        {
            if (!reader.TryRead(MemoryMarshal.AsBytes(entry.AsSpan()), s_noHang, CancellationToken.None, out JournalRecord record))
            {
                Assert.Fail($"no entry for {s_noHang.TotalSeconds} s after {i} of {total} at position {reader.Position}; per writer {string.Join(", ", next)}; {diagnose()}");
            }
            Assert.Equal(0, record.LostBefore);
            Assert.Equal(expected + record.AbortedBefore, record.Sequence);
            aborted += record.AbortedBefore;
            expected = record.Sequence + 1;
            Assert.True(JournalVerbs.IsWholeTagged(entry), $"entry {record.Sequence} is torn");
            int writer = (int)entry[0];
            Assert.Equal(next[writer]++, entry[1]);
            if (i % 256 == 255)
            {
                reader.Commit();
            }
        }
        reader.Commit();
        return new Received(next, aborted);
    }
}
