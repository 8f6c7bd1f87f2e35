using System.Globalization;
using System.Text.Json;
using Membrane.Arcs;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Cli;

/// <summary>
/// <c>membrane stat</c> and the <see cref="SegmentStatistics"/> it reads with: counters kept in the segments themselves,
/// read from outside the processes that use them.
/// </summary>
[Collection(nameof(Segments.GarbageCollectionTests))] // lists every segment
public sealed class StatTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Stat_json_while_the_demo_runs_shows_the_journal_the_writers_rate_and_both_cursors_lag()
    {
        string directory = _segments.NewDirectory("stat-demo");
        using Peer demo = Peer.Cli("demo", "--seconds", "8", "--rate", "20000", "--out", directory);
        string journal = _segments.Track(string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{demo.Pid}"));
        Assert.StartsWith("Journal ", demo.ReadLine(), StringComparison.Ordinal);
        Assert.StartsWith("Started writer", demo.ReadLine(), StringComparison.Ordinal);
        // Its processes are started, not yet running: wait until both reporters have committed something.
        Eventually.Holds(() => SegmentStatistics.Sample(journal).Journal!.Cursors.Count(c => c.Registered && c.Position > 0) == 2,
            "both reporters commit");

        (int exitCode, string stdout, string stderr) = Peer.RunCli("stat", "--json", "--watch", journal, "--interval", "0.5");

        Assert.True(exitCode == 0, stderr);
        JsonElement row = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Single();
        Assert.Equal(journal, row.GetProperty("name").GetString());
        Assert.Equal("journal", row.GetProperty("kind").GetString());
        JsonElement sample = row.GetProperty("journal");
        Assert.InRange(sample.GetProperty("write_rate").GetDouble(), 1_000, 100_000); // the demo writes 20,000 a second
        JsonElement[] cursors = [.. sample.GetProperty("cursors").EnumerateArray()];
        Assert.Equal([0, 1], cursors.Select(c => c.GetProperty("id").GetInt32()));
        Assert.All(cursors, c =>
        {
            Assert.InRange(c.GetProperty("lag").GetInt64(), 0, sample.GetProperty("capacity").GetInt64());
            Assert.True(c.GetProperty("reader_alive").GetBoolean());
            Assert.True(c.GetProperty("rate").GetDouble() > 0);
        });
        Assert.Equal(0, demo.RunToEnd().ExitCode);
    }

    [Fact]
    public void Stat_off_a_terminal_prints_one_plain_reading_per_interval()
    {
        string name = _segments.NewName("stat-plain");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });

        (int exitCode, string stdout, string stderr) = Peer.RunCli("stat", "--watch", name, "--interval", "0.2", "--count", "2");

        Assert.True(exitCode == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Count(l => l.StartsWith("# ", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l.StartsWith(name + "  ring  ", StringComparison.Ordinal) && l.Contains("depth 0 B of 4,096", StringComparison.Ordinal)));
        Assert.DoesNotContain('\u001b', stdout);
    }

    [Fact]
    public void A_ring_sample_shows_bytes_written_and_read_and_the_depth_between()
    {
        string name = _segments.NewName("stat-ring");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        for (int i = 0; i < 10; i++)
        {
            Assert.True(producer.TryWrite(new byte[100]));
        }
        producer.Publish();
        byte[] buffer = new byte[100];
        for (int i = 0; i < 4; i++)
        {
            Assert.True(consumer.TryRead(buffer, out _));
        }
        consumer.Publish();

        RingSample sample = SegmentStatistics.Sample(name).Ring!.Value;

        const long Record = 112; // an 8-byte header and 100 bytes, aligned to 8
        Assert.Equal(4096, sample.Capacity);
        Assert.Equal(10 * Record, sample.BytesWritten);
        Assert.Equal(4 * Record, sample.BytesRead);
        Assert.Equal(6 * Record, sample.Depth);
        Assert.Equal(Environment.ProcessId, sample.ProducerPid);
        Assert.Equal(Environment.ProcessId, sample.ConsumerPid);
    }

    [Fact]
    public async Task A_ring_sample_counts_the_consumers_park_and_the_producers_wake_across_processes()
    {
        string name = _segments.NewName("stat-parks");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        consumer.SpinBeforeParking = TimeSpan.Zero;
        byte[] buffer = new byte[64];
        Task<bool> reading = Task.Run(() => consumer.TryRead(buffer, TimeSpan.FromSeconds(30), CancellationToken.None, out _));

        // Parked: the counter in the segment says so, read from outside as stat reads it.
        Eventually.Holds(() => SegmentStatistics.Sample(name).Ring!.Value.Waits.ConsumerParks >= 1, "the consumer parked");
        using (var producer = Peer.Start("ring-produce", name, "1", "1", "64"))
        {
            producer.Expect("done 1");
            Assert.Equal(0, producer.Finish());
        }

        Assert.True(await reading.WaitAsync(TimeSpan.FromSeconds(30)), "the parked consumer was not woken by the message");
        WaitSample waits = SegmentStatistics.Sample(name).Ring!.Value.Waits;
        Assert.True(waits.ConsumerParks >= 1); // one a 50 ms slice while the producer process started
        Assert.InRange(waits.ProducerWakes, 1, 2); // its publication's, and perhaps its close's if the consumer was still counted in
        Assert.Equal(0, waits.ProducerParks); // an empty ring always had room
        Assert.Equal(0, waits.ConsumerWakes); // a producer that never waited for room was never woken
    }

    [Fact]
    public void An_arc_sample_counts_lock_cycles_and_each_owner_found_dead()
    {
        string name = _segments.NewName("stat-arc");
        using var arc = IpcArc<long>.Create(name, 0);
        for (int i = 0; i < 3; i++)
        {
            using IpcArcGuard<long> guard = arc.Lock();
            guard.Value++;
        }
        using (var holder = Peer.Start("arc-hold", name))
        {
            holder.Expect("locked");
            Assert.Equal(holder.Pid, SegmentStatistics.Sample(name).Arc!.Value.HolderPid);
            holder.KillHard();
        }
        using (IpcArcGuard<long> guard = arc.Lock())
        {
            Assert.True(guard.PreviousOwnerDied);
        }

        ArcSample sample = SegmentStatistics.Sample(name).Arc!.Value;

        Assert.Null(sample.HolderPid);
        Assert.Equal(1, sample.OwnerDied);
        Assert.Equal(4, sample.Locks); // three cycles, then the dead holder's that this process completed
    }

    [Fact]
    public void A_raw_segment_has_no_counters_to_sample_and_a_missing_one_is_named()
    {
        string name = _segments.NewName("stat-raw");
        using var segment = SharedSegment.Create(name, 64);

        var raw = Assert.Throws<SegmentLayoutMismatchException>(() => SegmentStatistics.Sample(name));
        Assert.Contains("Raw", raw.Found, StringComparison.Ordinal);
        Assert.Throws<SegmentNotFoundException>(() => SegmentStatistics.Sample(name + "-missing"));
        (int exitCode, _, string stderr) = Peer.RunCli("stat", "--json", "--watch", name + "-missing");
        Assert.Equal(1, exitCode);
        Assert.Contains(name + "-missing", stderr, StringComparison.Ordinal);
    }
}
