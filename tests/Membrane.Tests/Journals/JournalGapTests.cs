using Membrane.Journals;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Journals;

/// <summary>Gaps a relay writes (<see cref="JournalWriter.AppendGap"/>) and commits behind the read position: what a bridge's far and near journals rely on.</summary>
public sealed class JournalGapTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Theory]
    [InlineData(JournalWriters.One)]
    [InlineData(JournalWriters.Many)]
    public void Gaps_are_reported_with_the_next_entry_under_their_own_sequences(JournalWriters writers)
    {
        string name = _segments.NewName("journal-gap");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, Cursors = 1, Writers = writers });
        using var reader = journal.OpenReader(0, StartPosition.Oldest);
        using (var writer = journal.CreateWriter())
        {
            for (long i = 0; i < 5; i++)
            {
                Assert.Equal(i, writer.Append(i));
            }
            Assert.Equal(8, writer.AppendGap(3, JournalGap.Lost));
            Assert.Equal(8, writer.Append(8L));
            Assert.Equal(11, writer.AppendGap(2, JournalGap.Aborted));
            Assert.Equal(12, writer.AppendGap(1, JournalGap.Lost));
            Assert.Equal(12, writer.Append(12L));
            Assert.Equal(13, writer.AppendGap(0, JournalGap.Lost));
            Assert.Equal(15, writer.AppendGap(2, JournalGap.Lost)); // trailing: reported with whatever comes next
        }

        var records = new List<(JournalRecord Record, long Value)>();
        while (reader.TryRead(out long value, out JournalRecord record))
        {
            records.Add((record, value));
        }
        Assert.Equal([0, 1, 2, 3, 4, 8, 12], records.Select(r => r.Record.Sequence));
        Assert.Equal(records.Select(r => r.Record.Sequence), records.Select(r => r.Value));
        Assert.Equal((3L, 0L), (records[5].Record.LostBefore, records[5].Record.AbortedBefore));
        Assert.Equal((1L, 2L), (records[6].Record.LostBefore, records[6].Record.AbortedBefore));
        Assert.Equal(15, reader.Position);
        Assert.Equal((4L, 2L), (reader.TotalLost, reader.TotalAborted));
        Assert.Equal(15, journal.WritePosition);
    }

    [Fact]
    public void A_gap_longer_than_the_ring_reads_as_that_many_lost()
    {
        string name = _segments.NewName("journal-gap-long");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, Cursors = 1 });
        using var reader = journal.OpenReader(0, StartPosition.Oldest);
        using (var writer = journal.CreateWriter())
        {
            writer.AppendGap(100, JournalGap.Lost);
            writer.Append(100L);
        }
        Assert.True(reader.TryRead(out long value, out JournalRecord record));
        Assert.Equal((100L, 100L, 100L), (record.Sequence, record.LostBefore, value));
    }

    [Fact]
    public void A_gap_is_refused_after_dispose_and_for_an_undefined_kind()
    {
        string name = _segments.NewName("journal-gap-refused");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, Cursors = 1 });
        var writer = journal.CreateWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.AppendGap(-1, JournalGap.Lost));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.AppendGap(1, (JournalGap)7));
        Assert.Equal(0, journal.WritePosition);
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.AppendGap(1, JournalGap.Lost));
    }

    [Fact]
    public void A_reader_commits_a_position_behind_the_one_it_read_to_and_resumes_there()
    {
        string name = _segments.NewName("journal-commit-behind");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, Cursors = 1 });
        using (var writer = journal.CreateWriter())
        {
            for (long i = 0; i < 10; i++)
            {
                writer.Append(i);
            }
        }
        using (var reader = journal.OpenReader("relay", StartPosition.Oldest))
        {
            while (reader.TryRead(out long _, out JournalRecord _))
            {
            }
            Assert.Equal(10, reader.Position);
            reader.Commit(4);
            Assert.Equal(4, reader.CommittedPosition);
            Assert.Throws<ArgumentOutOfRangeException>(() => reader.Commit(11));
            Assert.Throws<ArgumentOutOfRangeException>(() => reader.Commit(-1));
            Assert.Equal(4, reader.CommittedPosition);
        }
        using var resumed = journal.OpenReader("relay");
        Assert.True(resumed.TryRead(out long value, out JournalRecord record));
        Assert.Equal((4L, 4L), (record.Sequence, value));
    }
}
