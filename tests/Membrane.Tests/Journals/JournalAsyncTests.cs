using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Journals;

/// <summary><see cref="JournalReader.ReadAllAsync"/> following writers in other processes.</summary>
public sealed class JournalAsyncTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public async Task Await_foreach_gets_every_entry_in_order_and_commits_each_as_the_loop_moves_on()
    {
        const long count = 100_000;
        string name = _segments.NewName("all");
        // Block policy and a small journal: the writer gets through only if the loop's commits free its room.
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 1024, SlotSize = 64, Policy = OverrunPolicy.Block });
        using JournalReader reader = journal.OpenReader("all", StartPosition.Oldest);
        using Peer writer = Peer.Start("journal-write", name, count.ToString(CultureInfo.InvariantCulture));

        long expected = 0;
        using var timeout = new CancellationTokenSource(s_wait);
        await foreach (JournalEntry entry in reader.ReadAllAsync(timeout.Token))
        {
            Assert.Equal(expected, entry.Sequence);
            Assert.Equal(0, entry.LostBefore);
            AssertWrittenBy(entry);
            Assert.Equal(entry.Sequence, reader.CommittedPosition); // the one before is committed, not this one yet
            if (++expected == count)
            {
                break;
            }
        }

        writer.Expect(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
        Assert.Equal(count - 1, reader.CommittedPosition); // the last body broke out: not committed
    }

    [Fact]
    public async Task A_lapped_reader_is_told_exactly_how_many_entries_it_lost_before_each_entry()
    {
        string name = _segments.NewName("lapped");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, SlotSize = 64, Policy = OverrunPolicy.Overwrite });
        using JournalReader reader = journal.OpenReader("lapped", StartPosition.Oldest);
        Write(name, 1000); // 0..999, of which only the last 64 are still there

        var entries = new List<JournalEntry>();
        using var timeout = new CancellationTokenSource(s_wait);
        await foreach (JournalEntry entry in reader.ReadAllAsync(timeout.Token))
        {
            AssertWrittenBy(entry);
            entries.Add(entry with { Data = default });
            if (entry.Sequence == 999)
            {
                Write(name, 500); // 1000..1499 while the loop waits here: lapped again
            }
            if (entry.Sequence == 1499)
            {
                break;
            }
        }

        Assert.Equal(new JournalEntry(936, 936, default), entries[0]);
        Assert.Equal(new JournalEntry(1436, 436, default), entries[64]);
        Assert.Equal(128, entries.Count);
        for (int i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].Sequence + 1 + entries[i].LostBefore, entries[i].Sequence);
        }
        Assert.Equal(1500, entries.Count + entries.Sum(e => e.LostBefore));
    }

    [Fact]
    public async Task A_destination_too_small_is_an_ordinary_false_with_the_length_needed_and_the_entry_stays_next()
    {
        using var journal = Membrane.Journals.Journal.Create(_segments.NewName("small"), new JournalOptions { Capacity = 16, SlotSize = 64 });
        using JournalWriter writer = journal.CreateWriter();
        using JournalReader reader = journal.OpenReader("small", StartPosition.Oldest);
        writer.Append(new byte[40]);

        Assert.False(reader.TryRead(new byte[10], out JournalRecord tooLong));
        Assert.Equal((0L, 40), (tooLong.Sequence, tooLong.Length));
        Assert.False(reader.TryRead(new byte[10], s_wait, CancellationToken.None, out tooLong)); // at once, not after s_wait
        Assert.Equal(40, tooLong.Length);
        Assert.Throws<ArgumentException>(() => reader.Read(new byte[10]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await reader.ReadAsync(new byte[10]));
        Assert.True(reader.TryRead(new byte[40], out JournalRecord read));
        Assert.Equal((0L, 40, 0L), (read.Sequence, read.Length, read.LostBefore));
    }

    /// <summary>Runs a writer process that appends <paramref name="count"/> entries and exits.</summary>
    private static void Write(string name, long count)
    {
        using Peer writer = Peer.Start("journal-write", name, count.ToString(CultureInfo.InvariantCulture));
        Assert.StartsWith("written ", writer.ReadLine(), StringComparison.Ordinal);
        Assert.Equal(0, writer.Finish());
    }

    /// <summary>The test peer's writer fills entry <c>s</c> with <c>s * K ^ i</c> in its eight longs.</summary>
    private static void AssertWrittenBy(JournalEntry entry)
    {
        Assert.Equal(64, entry.Data.Length);
        long first = MemoryMarshal.Read<long>(entry.Data.Span);
        Assert.Equal(unchecked(entry.Sequence * (long)0x9E37_79B9_7F4A_7C15UL), first);
    }
}
