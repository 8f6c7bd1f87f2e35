using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Segments;
using Membrane.Sync;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Journals;

public sealed class JournalTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    /// <summary>The entry the test peer writes for <paramref name="sequence"/> (the same formula as its own).</summary>
    private static void AssertEntryIntact(ReadOnlySpan<byte> bytes, long sequence)
    {
        ReadOnlySpan<long> entry = MemoryMarshal.Cast<byte, long>(bytes);
        for (int i = 0; i < 8; i++)
        {
            Assert.True(entry[i] == (unchecked(sequence * (long)0x9E37_79B9_7F4A_7C15UL) ^ i), $"entry {sequence} is torn or wrong at word {i}");
        }
    }

    private static long Number(string? line, string prefix)
    {
        Assert.NotNull(line);
        Assert.StartsWith(prefix, line, StringComparison.Ordinal);
        return long.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public void A_journal_made_to_go_when_unused_is_removed_by_the_last_process_that_closes_it_and_only_then()
    {
        string name = _segments.NewName("journal-unused");
        string kept = _segments.NewName("journal-kept");
        var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { RemoveWhenUnused = true });
        Membrane.Journals.Journal.Create(kept, new JournalOptions()).Dispose();
        using (Membrane.Journals.Journal other = Membrane.Journals.Journal.Open(name))
        {
            journal.Dispose();
            Assert.True(File.Exists(TestSegments.ShmPath(name)), "removed while another handle had it open");
            using JournalWriter writer = other.CreateWriter();
            writer.Append([1, 2, 3]);
        }

        Assert.False(File.Exists(TestSegments.ShmPath(name)), "still there after its last handle closed");
        Assert.True(File.Exists(TestSegments.ShmPath(kept)), "a journal made without it must outlive its processes");
    }

    [Fact]
    public async Task Four_readers_each_receive_every_entry_in_order_under_block()
    {
        string name = _segments.NewName("journal-block");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, Cursors = 4, Policy = OverrunPolicy.Block });
        const int Entries = 20_000;
        var readers = Enumerable.Range(0, 4).Select(id => journal.OpenReader(id)).ToList();
        using var writer = Peer.Start("journal-write", name, Entries.ToString(CultureInfo.InvariantCulture));

        var received = readers.Select(reader => Task.Run(() =>
        {
            byte[] buffer = new byte[64];
            for (long expected = 0; expected < Entries; expected++)
            {
                Assert.True(reader.TryRead(buffer, TimeSpan.FromSeconds(30), CancellationToken.None, out JournalRecord record), $"cursor {reader.CursorId} waited in vain for {expected}");
                Assert.Equal(expected, record.Sequence);
                Assert.Equal(0, record.LostBefore);
                AssertEntryIntact(buffer, record.Sequence);
                if (expected % 16 == 0)
                {
                    reader.Commit(); // the Block writer waits for these commits
                }
            }
            reader.Commit();
            return reader.Position;
        })).ToArray();

        Assert.All(await Task.WhenAll(received).WaitAsync(TimeSpan.FromSeconds(60)), position => Assert.Equal(Entries, position));
        Assert.Equal(Entries, Number(writer.ReadLine(), "written "));
        readers.ForEach(r => r.Dispose());
    }

    [Fact]
    public void A_lapped_reader_under_overwrite_is_told_exactly_what_it_lost()
    {
        string name = _segments.NewName("journal-lapped");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, Cursors = 1 });
        using var reader = journal.OpenReader(0);
        using (var writer = Peer.Start("journal-write", name, "10000"))
        {
            Assert.Equal(10_000, Number(writer.ReadLine(), "written "));
        }

        byte[] buffer = new byte[64];
        Assert.True(reader.TryRead(buffer, out JournalRecord first));
        Assert.Equal(10_000 - 16, first.Sequence);
        Assert.Equal(10_000 - 16, first.LostBefore);
        AssertEntryIntact(buffer, first.Sequence);
        for (long sequence = first.Sequence + 1; sequence < 10_000; sequence++)
        {
            Assert.True(reader.TryRead(buffer, out JournalRecord record));
            Assert.Equal((sequence, 0L), (record.Sequence, record.LostBefore));
            AssertEntryIntact(buffer, sequence);
        }
        Assert.False(reader.TryRead(buffer, out _));
        Assert.Equal(10_000 - 16, reader.TotalLost);
    }

    [Fact]
    public void A_reader_racing_a_lapping_writer_accounts_for_every_sequence_and_never_gets_a_torn_entry()
    {
        string name = _segments.NewName("journal-race");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, Cursors = 1 });
        using var reader = journal.OpenReader(0);
        using var writer = Peer.Start("journal-write-until-stopped", name);
        writer.Expect("started");

        byte[] buffer = new byte[64];
        long delivered = 0, lost = 0, next = 0;
        while (delivered < 200_000 || lost == 0)
        {
            if (!reader.TryRead(buffer, TimeSpan.FromSeconds(30), CancellationToken.None, out JournalRecord record))
            {
                Assert.Fail("the writer stopped writing");
            }
            Assert.Equal(next + record.LostBefore, record.Sequence); // every sequence delivered or counted as lost
            AssertEntryIntact(buffer, record.Sequence);
            delivered++;
            lost += record.LostBefore;
            next = record.Sequence + 1;
        }
        writer.Send("stop");

        Assert.True(Number(writer.ReadLine(), "done ") >= next);
        Assert.Equal(lost, reader.TotalLost);
    }

    [Fact]
    public void A_writer_killed_and_replaced_continues_the_sequence_with_no_gap_or_duplicate()
    {
        string name = _segments.NewName("journal-writer-crash");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 4096, Cursors = 1 });
        using var reader = journal.OpenReader(0);
        using (var first = Peer.Start("journal-write", name, "1000", "hang"))
        {
            Assert.Equal(1000, Number(first.ReadLine(), "written "));
            first.KillHard();
        }
        using (var second = Peer.Start("journal-write", name, "500"))
        {
            Assert.Equal(1500, Number(second.ReadLine(), "written "));
        }

        byte[] buffer = new byte[64];
        for (long sequence = 0; sequence < 1500; sequence++)
        {
            Assert.True(reader.TryRead(buffer, out JournalRecord record));
            Assert.Equal(sequence, record.Sequence);
            AssertEntryIntact(buffer, sequence);
        }
        Assert.False(reader.TryRead(buffer, out _));
    }

    [Fact]
    public void A_second_live_writer_is_refused_naming_the_first()
    {
        string name = _segments.NewName("journal-two-writers");
        using var journal = Membrane.Journals.Journal.Create(name);
        using var first = Peer.Start("journal-write", name, "1", "hang");
        first.ReadLine();

        var error = Assert.Throws<SegmentInUseException>(() => journal.CreateWriter());

        Assert.Equal($"writer pid {first.Pid}", error.Found);
    }

    [Fact]
    public void A_reader_joining_late_catches_up_from_the_oldest_entry()
    {
        string name = _segments.NewName("journal-late");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 1024, Cursors = 2 });
        using (var writer = Peer.Start("journal-write", name, "100"))
        {
            writer.ReadLine();
        }

        using var late = journal.OpenReader("late-joiner");
        byte[] buffer = new byte[64];
        for (long sequence = 0; sequence < 100; sequence++)
        {
            Assert.True(late.TryRead(buffer, out JournalRecord record));
            Assert.Equal((sequence, 0L), (record.Sequence, record.LostBefore));
        }
        Assert.Equal("late-joiner", journal.Cursors().Single(c => c.Name is not null).Name);
    }

    [Fact]
    public void A_reader_resumes_from_its_committed_position_after_a_restart()
    {
        string name = _segments.NewName("journal-resume");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 1024, Cursors = 1 });
        using (var writer = Peer.Start("journal-write", name, "50"))
        {
            writer.ReadLine();
        }
        byte[] buffer = new byte[64];
        using (var reader = journal.OpenReader(0))
        {
            for (int i = 0; i < 20; i++)
            {
                reader.TryRead(buffer, out _);
            }
            reader.Commit();
            reader.TryRead(buffer, out _); // read but not committed: it counts as not consumed
        }

        using var restarted = journal.OpenReader(0);

        Assert.Equal(20, restarted.Position);
        Assert.True(restarted.TryRead(buffer, out JournalRecord next));
        Assert.Equal(20, next.Sequence);
    }

    [Fact]
    public void A_cursor_takes_one_live_reader_at_a_time()
    {
        using var journal = Membrane.Journals.Journal.Create(_segments.NewName("journal-cursor-owner"));
        using var reader = journal.OpenReader(3);

        var error = Assert.Throws<SegmentInUseException>(() => journal.OpenReader(3));

        Assert.Contains("Cursor 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_parked_reader_is_woken_by_a_writer_in_another_process()
    {
        string name = _segments.NewName("journal-park");
        using var journal = Membrane.Journals.Journal.Create(name);
        using var reader = journal.OpenReader(0);
        byte[] buffer = new byte[64];
        Task<JournalRecord> waiting = reader.ReadAsync(buffer).AsTask();

        using var writer = Peer.Start("journal-write", name, "1");

        JournalRecord record = await waiting.WaitAsync(TimeSpan.FromSeconds(30)); // a TimeoutException says it was not woken
        Assert.Equal(0, record.Sequence);
        AssertEntryIntact(buffer, 0);
    }

    [Fact]
    public void A_blocking_read_honours_its_timeout_and_cancellation()
    {
        using var journal = Membrane.Journals.Journal.Create(_segments.NewName("journal-timeout"));
        using var reader = journal.OpenReader(0);
        byte[] buffer = new byte[64];

        Assert.False(reader.TryRead(buffer, TimeSpan.FromMilliseconds(100), CancellationToken.None, out _));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.ThrowsAny<OperationCanceledException>(() => reader.Read(buffer, cancellation.Token));
    }

    [Fact]
    public void A_block_writer_stuck_behind_a_reader_fails_after_its_timeout_naming_the_cursor()
    {
        using var journal = Membrane.Journals.Journal.Create(_segments.NewName("journal-stall"), new JournalOptions { Capacity = 16, Cursors = 2, Policy = OverrunPolicy.Block });
        using var idle = journal.OpenReader(1);
        using var writer = journal.CreateWriter(blockTimeout: TimeSpan.FromMilliseconds(200));
        for (int i = 0; i < 16; i++)
        {
            writer.Append([1, 2, 3]);
        }

        var error = Assert.Throws<ReaderStalledException>(() => writer.Append([4]));

        Assert.Equal("room for entry 16", error.Expected);
        Assert.Equal($"cursor 1 at 0, pid {Environment.ProcessId}", error.Found);
    }

    [Fact]
    public void A_damaged_cursor_table_is_refused_at_open_naming_the_cursor()
    {
        string name = _segments.NewName("journal-corrupt");
        Membrane.Journals.Journal.Create(name, new JournalOptions { Cursors = 4 }).Dispose();
        HeaderPoke.WriteInt64(name, SegmentHeaderLayout.Size + JournalLayout.CursorTableOffset + (2 * JournalLayout.CursorSize), 1L << 40);

        var error = Assert.Throws<SegmentCorruptException>(() => Membrane.Journals.Journal.Open(name));

        Assert.Equal("cursor 2 at position 1099511627776, state 0", error.Found);
    }

    [Theory]
    [InlineData(JournalWriters.One)]
    [InlineData(JournalWriters.Many)]
    public async Task Opening_while_a_writer_appends_and_a_reader_commits_is_never_taken_for_damage(JournalWriters writers)
    {
        // The check at open compares each cursor with the write position: read in the wrong order, a reader that
        // committed after the write position was read looked ahead of it, and the open failed as corrupt.
        string name = _segments.NewName("journal-open-busy");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 1024, SlotSize = 16, Writers = writers });
        using var stop = new CancellationTokenSource();
        Task writing = Task.Run(() =>
        {
            using JournalWriter writer = journal.CreateWriter();
            while (!stop.IsCancellationRequested)
            {
                writer.Append([1, 2, 3]);
            }
        });
        Task reading = Task.Run(() =>
        {
            using JournalReader reader = journal.OpenReader(0);
            byte[] entry = new byte[16];
            while (!stop.IsCancellationRequested)
            {
                if (reader.TryRead(entry, out _))
                {
                    reader.Commit();
                }
            }
        });
        try
        {
            Eventually.Holds(() => journal.Cursors()[0].CommittedPosition > 10_000, "the reader commits");
            for (int i = 0; i < 20_000; i++)
            {
                using var opened = Membrane.Journals.Journal.Open(name);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writing, reading).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public void Another_kind_of_segment_is_refused_as_a_journal()
    {
        string name = _segments.NewName("journal-foreign");
        using var raw = SharedSegment.Create(name, 4096);

        var error = Assert.Throws<SegmentLayoutMismatchException>(() => Membrane.Journals.Journal.Open(name));

        Assert.Equal("a Journal segment", error.Expected);
    }

    [Fact]
    public void An_entry_larger_than_the_slot_is_refused_not_truncated()
    {
        using var journal = Membrane.Journals.Journal.Create(_segments.NewName("journal-too-large"), new JournalOptions { SlotSize = 8 });
        using var writer = journal.CreateWriter();

        Assert.Throws<ArgumentException>(() => writer.Append(new byte[9]));
        Assert.Equal(0, journal.WritePosition);
    }

    /// <summary>
    /// The repair of the parked-readers count (which takes back what dead readers left in it) must never take out a live
    /// reader, or that reader's wake is lost and it sleeps for good: a reader that counts itself out and in again while a
    /// repairer in another process looks must make that repair fail. The reader's side of parking, churned two million
    /// times against a process repairing without pause; a live reader counted in must always see itself in the count.
    /// </summary>
    [Fact]
    public void Repairing_the_parked_count_never_takes_out_a_live_reader_that_counted_itself_out_and_in_again()
    {
        string name = _segments.NewName("journal-repair");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 8 });
        using JournalReader reader = journal.OpenReader("churn", StartPosition.Oldest);
        using Peer repairer = Peer.Start("journal-repair-parked", name);
        repairer.Expect("repairing");

        int takenOut = 0;
        ref int parked = ref journal.ParkedReaders;
        for (int i = 0; i < 2_000_000; i++)
        {
            reader.MarkWaiting(true);
            WaiterCount.CountIn(ref parked);
            if (WaiterCount.Waiters(Volatile.Read(ref parked)) == 0)
            {
                takenOut++;
                WaiterCount.CountIn(ref parked); // put it back, so that the count out below does not go negative
            }
            WaiterCount.CountOut(ref parked);
            reader.MarkWaiting(false);
        }

        repairer.Send("stop");
        string? done = repairer.ReadLine();
        Assert.StartsWith("repaired ", done);
        Assert.True(long.Parse(done!["repaired ".Length..], CultureInfo.InvariantCulture) > 0, "the peer made no repair");
        Assert.Equal(0, takenOut);
        Assert.Equal(0, WaiterCount.Waiters(Volatile.Read(ref parked)));
    }
}

