using System.Diagnostics.Metrics;
using Membrane.Arcs;
using Membrane.Diagnostics;
using Membrane.Journals;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Misuse;

/// <summary>
/// Use after <c>Dispose</c>: every public member of a disposed handle throws <see cref="ObjectDisposedException"/>;
/// <c>Dispose</c> is idempotent and never throws; a writer, reader or ring end that outlives the handle it came from
/// keeps working on memory that stays mapped; and the metrics thread never reads an unmapped journal.
/// </summary>
public sealed class DisposalTests : IDisposable
{
    private static readonly byte[] s_entry = [1, 2, 3, 4, 5, 6, 7, 8];
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void A_disposed_journal_refuses_every_call_while_its_writer_and_reader_keep_working()
    {
        string name = _segments.NewName("disposal-journal");
        var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
        JournalWriter writer = journal.CreateWriter();
        JournalReader reader = journal.OpenReader("reporter");

        journal.Dispose();
        journal.Dispose();

        Assert.Throws<ObjectDisposedException>(() => journal.WritePosition);
        Assert.Throws<ObjectDisposedException>(() => journal.Writer);
        Assert.Throws<ObjectDisposedException>(() => journal.WriterAlive);
        Assert.Throws<ObjectDisposedException>(() => journal.Cursors());
        Assert.Throws<ObjectDisposedException>(() => journal.CreateWriter());
        Assert.Throws<ObjectDisposedException>(() => journal.OpenReader(1));
        Assert.Throws<ObjectDisposedException>(() => journal.OpenReader("other"));
        Assert.Throws<ObjectDisposedException>(() => journal.RemoveCursor(1));

        Assert.Equal(0, writer.Append(s_entry)); // still mapped: the writer and the reader hold it
        byte[] entry = new byte[64];
        Assert.True(reader.TryRead(entry, out JournalRecord record));
        Assert.Equal((0L, 8), (record.Sequence, record.Length));
        reader.Commit();
        Assert.Equal(0, reader.Lag);

        writer.Dispose();
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.Append(s_entry));
        Assert.Throws<ObjectDisposedException>(() => writer.Append(new byte[1000])); // not "too large": disposed
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.TryRead(entry, out _));
        Assert.Throws<ObjectDisposedException>(() => reader.TryRead(entry, TimeSpan.Zero, CancellationToken.None, out _));
        Assert.Throws<ObjectDisposedException>(() => reader.Commit());
        Assert.Throws<ObjectDisposedException>(() => reader.Seek(0));
        Assert.Throws<ObjectDisposedException>(() => reader.Lag);
        Assert.Throws<ObjectDisposedException>(() => reader.CommittedPosition);

        // The last handle let go: this process is no longer attached, and the journal (persistent) is intact.
        SegmentInfo info = SegmentCatalog.Inspect(name);
        Assert.Equal(0, info.LiveProcesses);
        using var reopened = Membrane.Journals.Journal.Open(name);
        Assert.Equal(1, reopened.Cursors().Single(c => c.Name == "reporter").CommittedPosition);
    }

    [Fact]
    public async Task A_disposed_ring_refuses_new_ends_while_its_ends_keep_working_and_disposed_ends_refuse_every_call()
    {
        string name = _segments.NewName("disposal-ring");
        var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        RingProducer producer = ring.CreateProducer();
        RingConsumer consumer = ring.CreateConsumer();

        ring.Dispose();
        ring.Dispose();

        Assert.Throws<ObjectDisposedException>(() => ring.CreateProducer());
        Assert.Throws<ObjectDisposedException>(() => ring.CreateConsumer());
        Assert.True(producer.TryWrite(s_entry)); // still mapped: the ends hold it
        Assert.True(consumer.TryRead(out RingLease lease));
        Assert.Equal(s_entry, lease.Message.ToArray());

        consumer.Dispose();
        consumer.Dispose();
        lease.Dispose(); // the lease of a disposed consumer: Dispose never throws
        ObjectDisposedException? leaseError = null;
        try
        {
            lease.Release(publish: true); // an explicit release of it does (a ref struct: no lambda can hold it)
        }
        catch (ObjectDisposedException e)
        {
            leaseError = e;
        }
        Assert.NotNull(leaseError);
        Assert.Throws<ObjectDisposedException>(() => consumer.TryRead(out _));
        Assert.Throws<ObjectDisposedException>(() => consumer.TryRead(TimeSpan.Zero, CancellationToken.None, out _));
        Assert.Throws<ObjectDisposedException>(() => consumer.TryRead(new byte[8], out _));
        Assert.Throws<ObjectDisposedException>(() => consumer.TryRead(new byte[8], TimeSpan.Zero, CancellationToken.None, out _));
        Assert.Throws<ObjectDisposedException>(() => consumer.Publish());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await consumer.WaitToReadAsync());

        producer.Dispose();
        producer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => producer.TryReserve(8, out _));
        Assert.Throws<ObjectDisposedException>(() => producer.TryWrite(s_entry));
        Assert.Throws<ObjectDisposedException>(() => producer.Commit(0));
        Assert.Throws<ObjectDisposedException>(() => producer.Publish());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await producer.WaitToWriteAsync(8));

        Assert.False(File.Exists(TestSegments.ShmPath(name)), "the last end to let go removed the ring");
    }

    [Fact]
    public void A_disposed_arc_refuses_every_call()
    {
        var arc = IpcArc<long>.Create(_segments.NewName("disposal-arc"), 7);
        arc.Dispose();
        arc.Dispose();

        Assert.Throws<ObjectDisposedException>(() => arc.Read());
        Assert.Throws<ObjectDisposedException>(() => arc.Write(8));
        Assert.Throws<ObjectDisposedException>(() => arc.Lock());
        Assert.Throws<ObjectDisposedException>(() => arc.Lock(CancellationToken.None));
        Assert.Throws<ObjectDisposedException>(() => arc.TryLock(TimeSpan.Zero, out _));
        Assert.Throws<ObjectDisposedException>(() => arc.CountReferences());
        Assert.Throws<ObjectDisposedException>(() => arc.Clone());
    }

    [Fact]
    public void An_arc_disposed_while_its_guard_holds_the_lock_stays_mapped_for_the_guard_and_goes_with_it()
    {
        string name = _segments.NewName("disposal-arc-guard");
        var arc = IpcArc<long>.Create(name, 7);
        IpcArcGuard<long> guard = arc.Lock();

        arc.Dispose(); // no exception: the guard still holds the value
        guard.Value = 8; // and may still write it
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        guard.Dispose();

        Assert.False(File.Exists(TestSegments.ShmPath(name)), "the last reference went with the guard");
    }

    [Fact]
    public void An_arc_disposed_on_one_thread_as_its_guard_is_released_on_another_goes_exactly_once()
    {
        // Dispose and the guard's release race for the last reference with no lock of their own (see IpcArc.Release):
        // each round, exactly one of them must remove the segment, and neither may use the mapping after the other unmapped it.
        const int Rounds = 300;
        string prefix = _segments.NewName("disposal-arc-race");
        using var bothReady = new Barrier(2);
        for (int round = 0; round < Rounds; round++)
        {
            string name = $"{prefix}-{round}";
            var arc = IpcArc<long>.Create(name, round);
            IpcArcGuard<long> guard = arc.Lock();
            var disposer = new Thread(() =>
            {
                bothReady.SignalAndWait();
                arc.Dispose();
            });
            disposer.Start();
            bothReady.SignalAndWait();
            guard.Dispose();
            Assert.True(disposer.Join(TimeSpan.FromSeconds(10)), $"round {round}: Dispose did not return");
            Assert.False(File.Exists(TestSegments.ShmPath(name)), $"round {round}: the segment outlived both its handle and its guard");
        }
    }

    [Fact]
    public void The_lag_gauge_never_reads_a_journal_its_readers_have_let_go()
    {
        const int Rounds = 200;
        string prefix = _segments.NewName("disposal-gauge");
        long observed = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MembraneMetrics.MeterName && instrument.Name == "membrane.journal.lag")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Value is string segment && segment.StartsWith(prefix, StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref observed);
                }
            }
        });
        listener.Start();
        using var done = new ManualResetEventSlim();
        var collector = new Thread(() =>
        {
            while (!done.IsSet)
            {
                listener.RecordObservableInstruments(); // what an exporter's thread does, as fast as it can
            }
        });
        collector.Start();

        for (int round = 0; round < Rounds; round++)
        {
            string name = _segments.Track($"{prefix}-{round}");
            var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
            JournalReader reader = journal.OpenReader(0);
            journal.Dispose(); // the reader keeps it mapped while the gauge may read it ...
            listener.RecordObservableInstruments();
            reader.Dispose(); // ... and the gauge drops it before it is unmapped
            SharedSegment.Remove(name);
        }
        done.Set();
        collector.Join();

        Assert.True(Interlocked.Read(ref observed) >= Rounds, $"the gauge reported {observed} lags of {Rounds} readers");
    }
}
