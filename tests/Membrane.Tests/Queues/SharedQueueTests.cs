using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Queues;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Queues;

/// <summary>A shared queue with producers in other processes, some of them killed at their crash points.</summary>
public sealed class SharedQueueTests : IDisposable
{
    /// <summary>Longer than any wait the queue's protocol allows (a dead claim is skipped within about 50 ms): reaching it is a hang.</summary>
    private static readonly TimeSpan s_noHang = TimeSpan.FromSeconds(20);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Three_producer_processes_write_a_million_messages_each_and_the_consumer_gets_all_of_them_each_producers_in_order()
    {
        const long count = 1_000_000;
        string name = _segments.NewName("queue-three");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 64 * 1024 }); // small: producers wait for room, claims wrap
        using QueueConsumer consumer = queue.CreateConsumer();
        using Peer first = Peer.Start("queue-write", name, "0", count.ToString(CultureInfo.InvariantCulture));
        using Peer second = Peer.Start("queue-write", name, "1", count.ToString(CultureInfo.InvariantCulture));
        using Peer third = Peer.Start("queue-write", name, "2", count.ToString(CultureInfo.InvariantCulture));

        long[] received = Receive(consumer, producers: 3, total: 3 * count);

        Assert.Equal([count, count, count], received);
        foreach (Peer peer in new[] { first, second, third })
        {
            Assert.StartsWith("producing ", peer.ReadLine());
            peer.Expect(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
            Assert.Equal(0, peer.Finish());
        }
        Assert.False(consumer.TryRead(new byte[16], out _));
        Assert.Equal(0, consumer.AbortedClaims);
    }

    [Theory]
    [InlineData(CrashPoints.QueueReserveAfterClaim)]
    [InlineData(CrashPoints.QueueCommitBeforePublish)]
    public async Task A_producer_killed_holding_a_claim_costs_only_that_message(string point)
    {
        const long count = 1_000_000; // as many as the three-producer run above: the case, with one producer killed
        const long diesAt = 100_000; // at its 100,000th claim or commit: message 99,999
        string name = _segments.NewName("queue-crash");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 64 * 1024 });
        using QueueConsumer consumer = queue.CreateConsumer();
        using Peer first = Peer.Start("queue-write", name, "0", count.ToString(CultureInfo.InvariantCulture));
        using Peer second = Peer.Start("queue-write", name, "1", count.ToString(CultureInfo.InvariantCulture));
        using Peer dying = Peer.StartCrashingAt($"{point}@{diesAt}", "queue-write", name, "2", count.ToString(CultureInfo.InvariantCulture));
        Task<long[]> receiving = Task.Run(() => Receive(consumer, producers: 3, total: (2 * count) + (diesAt - 1)));

        dying.ExpectCrash();
        long[] received = await receiving;

        Assert.Equal([count, count, diesAt - 1], received);
        Assert.Equal(1, consumer.AbortedClaims);
        Assert.Equal(1, queue.AbortedClaims);
        Assert.StartsWith("producing ", first.ReadLine());
        first.Expect(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
        Assert.False(consumer.TryRead(new byte[16], out _));
    }

    [Fact]
    public async Task The_slot_of_a_producer_killed_holding_a_claim_is_taken_over_and_the_claim_is_still_skipped()
    {
        const long diesAt = 50_000;
        string name = _segments.NewName("queue-takeover");
        // One slot: the successor can only start in the dead producer's slot, under a new generation.
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 64 * 1024, MaxProducers = 1 });
        using QueueConsumer consumer = queue.CreateConsumer();
        Task<long[]> receiving = Task.Run(() => Receive(consumer, producers: 2, total: (diesAt - 1) + 1000));
        using (Peer dying = Peer.StartCrashingAt($"{CrashPoints.QueueCommitBeforePublish}@{diesAt}", "queue-write", name, "0", "100000"))
        {
            dying.Expect("producing 0");
            dying.ExpectCrash();
        }
        using Peer successor = Peer.Start("queue-write", name, "1", "1000");
        successor.Expect("producing 0");

        long[] received = await receiving;

        Assert.Equal([diesAt - 1, 1000], received);
        Assert.Equal(1, consumer.AbortedClaims);
        successor.Expect("written 1000");
        Assert.Equal(0, successor.Finish());
        (int exitCode, string stdout, string stderr) = Peer.RunCli("inspect", name, "--json");
        Assert.True(exitCode == 0, stderr);
        JsonElement shown = JsonDocument.Parse(stdout).RootElement.GetProperty("queue");
        Assert.Equal(1, shown.GetProperty("aborted_claims").GetInt64());
        Assert.Equal(1, shown.GetProperty("producer_slots").GetInt32());
        (exitCode, stdout, stderr) = Peer.RunCli("inspect", name);
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("claims aborted by dead producers: 1", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_parked_on_the_reactor_gets_every_message_of_two_producer_processes_each_in_order()
    {
        const long count = 100_000;
        string name = _segments.NewName("queue-async-read");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 64 * 1024 });
        using QueueConsumer consumer = queue.CreateConsumer();
        consumer.SpinBeforeParking = TimeSpan.Zero; // every wait that finds nothing parks
        using Peer first = Peer.Start("queue-write", name, "0", count.ToString(CultureInfo.InvariantCulture));
        using Peer second = Peer.Start("queue-write", name, "1", count.ToString(CultureInfo.InvariantCulture));

        var next = new long[2];
        var message = new byte[16];
        using var timeout = new CancellationTokenSource(s_noHang * 3);
        for (long i = 0; i < 2 * count; i++)
        {
            Assert.Equal(16, await consumer.ReadAsync(message, timeout.Token));
            int id = (int)BinaryPrimitives.ReadInt64LittleEndian(message);
            Assert.Equal(next[id]++, BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(8)));
        }

        Assert.Equal([count, count], next);
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            using QueueProducer producer = queue.CreateProducer();
            producer.TryWrite(new byte[32]);
            await consumer.ReadAsync(new byte[8]);
        });
    }

    [Fact]
    public async Task WriteAsync_waits_for_the_room_a_consumer_in_another_process_makes_and_fails_once_it_closed()
    {
        string name = _segments.NewName("queue-async-write");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 256 }); // ten messages' room
        using QueueProducer producer = queue.CreateProducer();
        producer.SpinBeforeParking = TimeSpan.Zero;
        using (Peer reader = Peer.Start("queue-read", name, "1000"))
        {
            var message = new byte[16];
            for (long sequence = 0; sequence < 1000; sequence++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(8), sequence);
                await producer.WriteAsync(message).AsTask().WaitAsync(s_noHang);
            }
            reader.Expect("read 1000");
            Assert.Equal(0, reader.Finish());
        }

        while (producer.TryWrite(new byte[16]))
        {
        }
        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(() => producer.WriteAsync(new byte[16]).AsTask().WaitAsync(s_noHang));
    }

    [Fact]
    public void Bursts_committed_without_publishing_all_reach_a_consumer_in_another_process_and_a_wait_for_room_publishes_first()
    {
        const long count = 20_000;
        string name = _segments.NewName("queue-bursts");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 1024 }); // forty messages' room: the producer waits often
        using QueueProducer producer = queue.CreateProducer();
        using Peer reader = Peer.Start("queue-read", name, count.ToString(CultureInfo.InvariantCulture));
        var message = new byte[16];
        int waits = 0;
        for (long sequence = 0; sequence < count; sequence++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(8), sequence);
            if (producer.TryReserve(16, out Span<byte> room))
            {
                message.CopyTo(room);
                producer.Commit(16, publish: sequence % 64 == 63);
            }
            else
            {
                waits++;
                Assert.True(producer.TryWrite(message, s_noHang), $"no room for {s_noHang.TotalSeconds} s at {sequence}");
            }
        }
        producer.Publish(); // the last, short burst

        reader.Expect(string.Create(CultureInfo.InvariantCulture, $"read {count}"));
        Assert.Equal(0, reader.Finish());
        Assert.True(waits > 0, "the producer never had to wait for room");
    }

    [Fact]
    public void Zero_copy_claims_commit_shorter_than_claimed_abort_on_dispose_and_a_small_destination_is_an_ordinary_false()
    {
        using var queue = SharedQueue.Create(_segments.NewName("queue-shapes"), new QueueOptions { Capacity = 4096 });
        using QueueConsumer consumer = queue.CreateConsumer();
        using (QueueProducer producer = queue.CreateProducer())
        {
            Assert.True(producer.TryReserve(100, out Span<byte> buffer));
            buffer[..3].Fill(7);
            producer.Commit(3); // the rest of the claim becomes padding
            Assert.True(producer.TryReserve(50, out _)); // left open: the dispose aborts it
        }
        using QueueProducer next = queue.CreateProducer();
        Assert.True(next.TryWrite([1, 2, 3, 4, 5]));

        Assert.True(consumer.TryRead(out QueueLease lease));
        Assert.Equal([7, 7, 7], lease.Message.ToArray());
        lease.Dispose();
        Assert.False(consumer.TryRead(new byte[4], out int needed)); // too small: false, the length needed, and it stays next
        Assert.Equal(5, needed);
        Assert.True(consumer.TryRead(new byte[8], out int length));
        Assert.Equal(5, length);
        Assert.False(consumer.TryRead(new byte[8], out length));
        Assert.Equal(0, length);
        Assert.Equal(0, consumer.AbortedClaims); // a claim given up by a live producer is not a crash
    }

    [Fact]
    public void A_full_queue_refuses_without_waiting_and_its_second_consumer_is_refused_while_the_first_lives()
    {
        string name = _segments.NewName("queue-full");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 256 });
        using QueueConsumer consumer = queue.CreateConsumer();
        using QueueProducer producer = queue.CreateProducer();
        int written = 0;
        while (producer.TryWrite(new byte[24]))
        {
            written++;
        }
        Assert.Equal(256 / 32, written);
        Assert.False(producer.TryWrite(new byte[24], TimeSpan.FromMilliseconds(20)));

        using var other = SharedQueue.Open(name);
        var error = Assert.Throws<SegmentInUseException>(other.CreateConsumer);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.TryWrite(new byte[queue.MaxMessageSize + 1]));
    }

    [Fact]
    public void Opening_a_ring_as_a_queue_names_the_segment_and_both_kinds()
    {
        string name = _segments.NewName("queue-kind");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });

        var error = Assert.Throws<SegmentLayoutMismatchException>(() => SharedQueue.Open(name));

        Assert.Equal(name, error.SegmentName);
        Assert.Contains("Queue", error.Expected, StringComparison.Ordinal);
        Assert.Contains("Ring", error.Found, StringComparison.Ordinal);
    }

    /// <summary>Reads until <paramref name="total"/> messages came, checking each producer's sequence; returns how many each sent.</summary>
    private static long[] Receive(QueueConsumer consumer, int producers, long total)
    {
        var next = new long[producers];
        var message = new byte[16];
        for (long i = 0; i < total; i++)
        {
            Assert.True(consumer.TryRead(message, s_noHang, CancellationToken.None, out int length), $"no message for {s_noHang.TotalSeconds} s after {i} of {total}");
            Assert.Equal(16, length);
            int id = (int)BinaryPrimitives.ReadInt64LittleEndian(message);
            long sequence = BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(8));
            Assert.True(id >= 0 && id < producers, $"producer id {id}");
            Assert.Equal(next[id], sequence);
            next[id]++;
        }
        return next;
    }
}
