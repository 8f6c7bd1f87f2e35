using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Membrane.Errors;
using Membrane.Rings;
using Membrane.Sync;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Rings;

public sealed class SharedRingTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    /// <summary>The checks the test peer's stream allows: its sequence first, its XxHash64 last.</summary>
    private static void AssertIntact(ReadOnlySpan<byte> message, long sequence)
    {
        Assert.True(message.Length >= 16, $"message {sequence} is {message.Length} bytes");
        Assert.Equal(sequence, MemoryMarshal.Read<long>(message));
        Assert.True(XxHash64.HashToUInt64(message[..^8]) == MemoryMarshal.Read<ulong>(message[^8..]), $"message {sequence} is corrupt");
    }

    /// <summary>A new ring of <paramref name="capacity"/> bytes, its consumer here, and a producer process running <paramref name="verb"/>.</summary>
    private CheckedStream StartStream(string purpose, long capacity, string verb, long messages, params string[] arguments)
    {
        string name = _segments.NewName(purpose);
        var ring = SharedRing.Create(name, new RingOptions { Capacity = capacity });
        return new CheckedStream(ring, ring.CreateConsumer(), Peer.Start(verb, name, [messages.ToString(CultureInfo.InvariantCulture), .. arguments]));
    }

    /// <summary>A ring with its consumer here and its producer in another process; disposing stops and closes all three.</summary>
    private sealed record CheckedStream(SharedRing Ring, RingConsumer Consumer, Peer Producer) : IDisposable
    {
        public void Dispose()
        {
            Producer.Dispose();
            Consumer.Dispose();
            Ring.Dispose();
        }
    }

    [Fact]
    public void Ten_million_messages_of_random_sizes_arrive_intact_and_in_order_from_another_process()
    {
        const long Messages = 10_000_000;
        using CheckedStream stream = StartStream("ring-stream", 1 << 16, "ring-produce", Messages, "42", "200");
        (SharedRing ring, RingConsumer consumer, Peer producer) = stream;

        long received = 0, bytes = 0;
        while (received < Messages)
        {
            Assert.True(consumer.TryRead(s_wait, CancellationToken.None, out RingLease lease), $"message {received} never came; producer: {producer.Stderr}");
            AssertIntact(lease.Message, received);
            bytes += lease.Message.Length;
            lease.Release(publish: received % 8 == 7);
            received++;
        }
        consumer.Publish();

        producer.Expect($"done {Messages}");
        Assert.False(consumer.TryRead(out _));
        Assert.True(bytes > 100 * ring.Capacity, $"only {bytes} bytes: too few wrap-arounds to mean anything");
    }

    [Fact]
    public void Messages_written_in_parts_arrive_intact_and_in_order_from_another_process()
    {
        const long Messages = 3000;
        // Messages of 16 bytes to 60,000 in a 128 KiB ring, those over 4 KiB in parts: most in parts, many wraps.
        using CheckedStream stream = StartStream("ring-parts", 1 << 17, "ring-write-parts", Messages, "9", "60000", "4096");
        (SharedRing ring, RingConsumer consumer, Peer producer) = stream;

        byte[] buffer = new byte[ring.MaxMessageSize];
        long bytes = 0;
        for (long sequence = 0; sequence < Messages; sequence++)
        {
            Assert.True(consumer.TryRead(buffer, s_wait, CancellationToken.None, out int length), $"message {sequence} never came; producer: {producer.Stderr}");
            AssertIntact(buffer.AsSpan(0, length), sequence);
            bytes += length;
        }

        producer.Expect($"done {Messages}");
        Assert.False(consumer.TryRead(out _));
        Assert.True(bytes > 500 * ring.Capacity, $"only {bytes} bytes: too few wrap-arounds to mean anything");
    }

    [Fact]
    public async Task ReadAsync_takes_messages_in_parts_too_awaiting_each_part_as_another_process_publishes_it()
    {
        const long Messages = 1000;
        using CheckedStream stream = StartStream("ring-parts-async", 1 << 17, "ring-write-parts", Messages, "11", "60000", "4096");
        (SharedRing ring, RingConsumer consumer, Peer producer) = stream;
        consumer.SpinBeforeParking = TimeSpan.Zero; // park between parts, through the reactor

        byte[] buffer = new byte[ring.MaxMessageSize];
        for (long sequence = 0; sequence < Messages; sequence++)
        {
            int length = await consumer.ReadAsync(buffer).AsTask().WaitAsync(s_wait);
            AssertIntact(buffer.AsSpan(0, length), sequence);
        }

        producer.Expect($"done {Messages}");
        Assert.False(consumer.TryRead(out _));
    }

    [Fact]
    public void A_negative_spin_is_refused_and_zero_or_a_positive_one_is_kept_as_set()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-spin"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();

        Assert.Throws<ArgumentOutOfRangeException>(() => producer.SpinBeforeParking = TimeSpan.FromTicks(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => consumer.SpinBeforeParking = TimeSpan.FromTicks(-1));
        producer.SpinBeforeParking = TimeSpan.Zero;
        consumer.SpinBeforeParking = TimeSpan.FromMilliseconds(3);
        Assert.Equal(TimeSpan.Zero, producer.SpinBeforeParking);
        Assert.Equal(TimeSpan.FromMilliseconds(3), consumer.SpinBeforeParking);
    }

    [Fact]
    public void A_message_in_parts_is_refused_by_every_read_but_the_one_that_takes_parts_and_waits_for_a_destination_that_fits()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-parts-refused"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.PartSize = 4096 / 8 + 1);
        producer.PartSize = 64;
        byte[] message = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        Assert.True(producer.TryWrite(message));

        using (RingConsumer leasing = ring.CreateConsumer())
        {
            var refused = Assert.Throws<PeerViolationException>(() => leasing.TryRead(out _));
            Assert.Contains("in parts", refused.Found, StringComparison.Ordinal);
        }

        using RingConsumer copying = ring.CreateConsumer(); // a fresh end: the refusal released nothing
        byte[] small = new byte[999];
        Assert.False(copying.TryRead(small, s_wait, CancellationToken.None, out int needed)); // at once: no waiting for what is there
        Assert.Equal(1000, needed);
        byte[] destination = new byte[1000];
        Assert.True(copying.TryRead(destination, s_wait, CancellationToken.None, out int length));
        Assert.Equal(1000, length);
        Assert.Equal(message, destination);
        Assert.False(copying.TryRead(out _));
    }

    [Fact]
    public void A_producer_killed_halfway_through_a_message_in_parts_is_reported_and_the_half_message_stays_unread()
    {
        string name = _segments.NewName("ring-parts-half");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using (var producer = Peer.Start("ring-half-parts", name))
        {
            producer.Expect("half");
            producer.KillHard();
        }
        byte[] destination = new byte[1000];

        var gone = Assert.Throws<PeerGoneException>(() => consumer.TryRead(destination, s_wait, CancellationToken.None, out _));
        Assert.Contains("dead", gone.Found, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref ring.Field64(RingLayout.HeadOffset))); // nothing of the half message was released
        Assert.Throws<PeerGoneException>(() => consumer.TryRead(destination, s_wait, CancellationToken.None, out _));
    }

    [Fact]
    public void Empty_and_full_edges_are_exact()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-edges"), new RingOptions { Capacity = 1024 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        Assert.False(consumer.TryRead(out _));

        // 56-byte messages take 64-byte records: exactly 16 fill the ring, the 17th does not fit.
        byte[] message = new byte[56];
        for (int i = 0; i < 16; i++)
        {
            message[0] = (byte)i;
            Assert.True(producer.TryWrite(message), $"message {i} should fit");
        }
        Assert.False(producer.TryWrite(message));
        Assert.False(producer.TryReserve(0, out _)); // not even an empty message: its 8-byte header has no room

        Assert.True(consumer.TryRead(out RingLease first));
        Assert.Equal(0, first.Message[0]);
        Assert.False(producer.TryWrite(message)); // read but not yet released: still no room
        first.Dispose();
        message[0] = 16;
        Assert.True(producer.TryWrite(message));

        for (int i = 1; i <= 16; i++)
        {
            Assert.True(consumer.TryRead(out RingLease lease));
            Assert.Equal(i, lease.Message[0]);
            lease.Dispose();
        }
        Assert.False(consumer.TryRead(out _));
    }

    [Fact]
    public void The_largest_message_reserves_and_commits_at_every_wrap_offset()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-largest"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        Assert.Equal(2040, ring.MaxMessageSize);
        byte[] copy = new byte[ring.MaxMessageSize];

        // Each round moves the ring's position by 8 (an empty message) + 2048 (the largest): 257 × 8 bytes, and 257 is
        // odd, so 512 rounds put the largest message at every 8-byte offset of the 4096-byte ring once.
        var offsets = new HashSet<long>();
        for (int round = 0; round < 512; round++)
        {
            Assert.True(producer.TryWrite([]));
            Assert.True(consumer.TryRead(copy, out int empty));
            Assert.Equal(0, empty);
            offsets.Add(((round + 1) * 8L + (round * 2048L)) % 4096);
            Assert.True(producer.TryReserve(ring.MaxMessageSize, out Span<byte> buffer), $"the largest message does not fit in round {round}");
            buffer.Fill((byte)round);
            producer.Commit(ring.MaxMessageSize);
            Assert.True(consumer.TryRead(copy, out int length));
            Assert.Equal(ring.MaxMessageSize, length);
            Assert.True(copy.All(b => b == (byte)round), $"the largest message came back wrong in round {round}");
        }
        Assert.Equal(512, offsets.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.TryReserve(ring.MaxMessageSize + 1, out _));
    }

    [Fact]
    public void Misusing_a_reservation_or_a_lease_is_an_error_that_loses_nothing()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-misuse"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();

        Assert.Throws<InvalidOperationException>(() => producer.Commit(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.TryReserve(-1, out _));
        Assert.True(producer.TryReserve(16, out Span<byte> buffer));
        buffer.Fill(7);
        Assert.Throws<InvalidOperationException>(() => producer.TryReserve(8, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.Commit(17));
        Assert.Throws<ArgumentOutOfRangeException>(() => producer.Commit(-1));
        producer.Commit(12); // the reservation survived the errors; committing less than reserved is allowed
        Assert.Throws<InvalidOperationException>(() => producer.Commit(12));

        Assert.True(consumer.TryRead(out RingLease lease));
        Assert.Equal(Enumerable.Repeat((byte)7, 12), lease.Message.ToArray());
        Assert.Throws<InvalidOperationException>(() => consumer.TryRead(out _));
        lease.Release(publish: true);
        InvalidOperationException? twice = null;
        try
        {
            lease.Release(publish: true); // a lease is a ref struct: no lambda can hold it for Assert.Throws
        }
        catch (InvalidOperationException e)
        {
            twice = e;
        }
        Assert.NotNull(twice);
        Assert.True(producer.TryWrite(new byte[8]));
        Assert.True(consumer.TryRead(out RingLease next));
        Assert.Equal(8, next.Message.Length); // releasing twice did not skip a record
        next.Dispose();
        Assert.False(consumer.TryRead(out _));
    }

    [Fact]
    public void Batched_commits_stay_invisible_until_published()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-batch"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        for (byte i = 0; i < 3; i++)
        {
            Assert.True(producer.TryReserve(1, out Span<byte> buffer));
            buffer[0] = i;
            producer.Commit(1, publish: false);
        }
        Assert.False(consumer.TryRead(out _));

        producer.Publish();

        for (byte i = 0; i < 3; i++)
        {
            Assert.True(consumer.TryRead(out RingLease lease));
            Assert.Equal(i, lease.Message[0]);
            lease.Release(publish: false);
        }
    }

    [Fact]
    public void A_burst_is_published_and_released_by_itself_once_it_holds_a_quarter_of_the_ring()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-quarter"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        Assert.True(producer.TryReserve(1000, out _));
        producer.Commit(1000, publish: false);   // 1,008 bytes held back: under a quarter
        Assert.False(consumer.TryRead(out _));

        Assert.True(producer.TryReserve(100, out _));
        producer.Commit(100, publish: false);    // 1,120 bytes: over a quarter, so published

        Assert.True(consumer.TryRead(out RingLease first));
        first.Release(publish: false);
        Assert.True(consumer.TryRead(out RingLease second));
        second.Release(publish: false);           // 1,120 bytes of room held back: returned by itself
        Assert.Equal(1120, Volatile.Read(ref ring.Field64(RingLayout.HeadOffset)));
    }

    [Fact]
    public void In_a_large_ring_a_burst_is_published_and_released_by_itself_once_it_holds_64_KiB()
    {
        // A quarter of this ring is 256 KiB: the 64 KiB limit is the one that acts (SharedRing.HeldBackLimit).
        using var ring = SharedRing.Create(_segments.NewName("ring-held-back"), new RingOptions { Capacity = 1 << 20 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(producer.TryReserve(16_000, out _));
            producer.Commit(16_000, publish: false); // 4 × 16,008 = 64,032 bytes held back: under 64 KiB
        }
        Assert.False(consumer.TryRead(out _));

        Assert.True(producer.TryReserve(16_000, out _));
        producer.Commit(16_000, publish: false);     // 80,040 bytes: over 64 KiB, so published

        for (int i = 0; i < 4; i++)
        {
            Assert.True(consumer.TryRead(out RingLease lease), $"message {i} was not published");
            lease.Release(publish: false);
        }
        Assert.Equal(0, Volatile.Read(ref ring.Field64(RingLayout.HeadOffset))); // 64,032 bytes of room held back
        Assert.True(consumer.TryRead(out RingLease last));
        last.Release(publish: false);                 // 80,040: returned by itself
        Assert.Equal(80_040, Volatile.Read(ref ring.Field64(RingLayout.HeadOffset)));
    }

    [Fact]
    public void A_second_live_producer_is_refused_naming_the_first()
    {
        string name = _segments.NewName("ring-two-producers");
        using var ring = SharedRing.Create(name);
        using var first = Peer.Start("ring-produce", name, "1", "1", "16", "hang");
        first.Expect("done 1");

        var error = Assert.Throws<SegmentInUseException>(() => ring.CreateProducer());

        Assert.Equal($"producer pid {first.Pid}", error.Found);
    }

    [Fact]
    public void A_producer_killed_is_detected_once_its_messages_are_read()
    {
        string name = _segments.NewName("ring-producer-dies");
        using var ring = SharedRing.Create(name);
        using RingConsumer consumer = ring.CreateConsumer();
        using (var producer = Peer.Start("ring-produce", name, "5", "7", "64", "hang"))
        {
            producer.Expect("done 5");
            producer.KillHard();
        }

        for (long sequence = 0; sequence < 5; sequence++)
        {
            Assert.True(consumer.TryRead(s_wait, CancellationToken.None, out RingLease lease));
            AssertIntact(lease.Message, sequence);
            lease.Dispose();
        }
        var gone = Assert.Throws<PeerGoneException>(() => consumer.TryRead(s_wait, CancellationToken.None, out _));

        Assert.Contains("dead", gone.Found, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void Reserving_a_large_message_wakes_a_parked_consumer_before_the_commit()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-heads-up"), new RingOptions { Capacity = 1 << 20 });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        // Stand in for a consumer parked on the tail: counted as parked, asleep on the tail's futex word for up to a minute.
        ref int parked = ref ring.Field32(RingLayout.ConsumerWaitingOffset);
        int* tailWord = (int*)ring.Address(RingLayout.TailOffset);
        Interlocked.Increment(ref parked);
        var sleeper = new Thread(() => Futex.Wait(tailWord, Volatile.Read(ref *tailWord), TimeSpan.FromMinutes(1))) { Name = "mbr-heads-up" };
        try
        {
            sleeper.Start();
            Eventually.Holds(() => ThreadIsInFutexWait("mbr-heads-up"), "the stand-in consumer is asleep on the futex");

            Assert.True(producer.TryReserve(64 * 1024, out Span<byte> room));

            Assert.True(sleeper.Join(TimeSpan.FromSeconds(20)), "a 64 KiB reservation did not wake the parked consumer");
            room.Fill(7);
            producer.Commit(room.Length);
            Assert.True(consumer.TryRead(out RingLease lease));
            Assert.Equal(64 * 1024, lease.Message.Length);
            lease.Dispose();
        }
        finally
        {
            Interlocked.Decrement(ref parked);
            Futex.WakeAll(tailWord);
            sleeper.Join();
        }
    }

    /// <summary>Whether this process's thread named <paramref name="name"/> sleeps in a futex wait (its kernel wait channel says so).</summary>
    private static bool ThreadIsInFutexWait(string name) =>
        Directory.EnumerateDirectories("/proc/self/task").Any(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).Trim() == name && File.ReadAllText(Path.Combine(task, "wchan")).StartsWith("futex", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false; // another thread of this process ended while we looked: not the one we want
            }
        });

    [Fact]
    public async Task A_producer_waiting_for_room_hears_that_the_consumer_closed_as_completion_not_as_an_error()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-consumer-closes"), new RingOptions { Capacity = 128 });
        using RingProducer producer = ring.CreateProducer();
        ring.CreateConsumer().Dispose();
        Assert.True(producer.TryWrite(new byte[56]));
        Assert.True(producer.TryWrite(new byte[56])); // full now

        Assert.False(producer.TryWrite(new byte[56], s_wait));

        Assert.True(producer.IsCompleted);
        Assert.False(await producer.WaitToWriteAsync(56).AsTask().WaitAsync(s_wait));
        Assert.Throws<ChannelClosedException>(() => producer.Write(new byte[56]));
        await Assert.ThrowsAsync<ChannelClosedException>(async () => await producer.WriteAsync(new byte[56]));
    }

    [Fact]
    public void Disposing_a_released_lease_does_nothing_and_a_second_explicit_release_throws()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-lease-twice"), new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using RingProducer producer = ring.CreateProducer();
        Assert.True(producer.TryWrite("one"u8));
        Assert.True(producer.TryWrite("two"u8));

        Assert.True(consumer.TryRead(out RingLease first));
        first.Release(publish: false);
        first.Dispose(); // released already: nothing
        first.Dispose();
        Assert.True(consumer.TryRead(out RingLease second));

        Assert.Equal("two"u8.ToArray(), second.Message.ToArray());
        second.Dispose();
        Assert.False(consumer.TryRead(out _));
        Assert.True(producer.TryWrite("three"u8));
        var twice = Assert.Throws<InvalidOperationException>(() => ReleaseTwice(consumer));
        Assert.Contains("released already", twice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_consumer_hears_the_producers_close_as_completion_once_it_has_read_everything()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-producer-closes"), new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using (RingProducer producer = ring.CreateProducer())
        {
            Assert.True(producer.TryWrite("last"u8));
        }
        byte[] buffer = new byte[16];

        Assert.True(await consumer.WaitToReadAsync().AsTask().WaitAsync(s_wait)); // what was published first
        Assert.False(consumer.IsCompleted);
        Assert.Equal(4, await consumer.ReadAsync(buffer).AsTask().WaitAsync(s_wait));
        Assert.False(await consumer.WaitToReadAsync().AsTask().WaitAsync(s_wait));

        Assert.True(consumer.IsCompleted);
        Assert.False(consumer.TryRead(buffer, s_wait, CancellationToken.None, out int length));
        Assert.Equal(0, length);
        Assert.False(consumer.TryRead(s_wait, CancellationToken.None, out _));
        await Assert.ThrowsAsync<ChannelClosedException>(async () => await consumer.ReadAsync(buffer));
    }

    [Fact]
    public void A_destination_too_small_is_an_ordinary_false_with_the_length_needed_and_the_message_stays_first()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-too-small"), new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using RingProducer producer = ring.CreateProducer();
        Assert.True(producer.TryWrite("twelve bytes"u8));

        Assert.False(consumer.TryRead(new byte[5], out int needed));
        Assert.Equal(12, needed);
        Assert.False(consumer.TryRead(new byte[5], s_wait, CancellationToken.None, out needed));
        Assert.Equal(12, needed);
        byte[] large = new byte[12];
        Assert.True(consumer.TryRead(large, out int length));
        Assert.Equal("twelve bytes"u8.ToArray(), large);
        Assert.Equal(12, length);
    }

    [Fact]
    public void Waits_honour_their_timeout_and_cancellation()
    {
        using var ring = SharedRing.Create(_segments.NewName("ring-timeouts"));
        using RingConsumer consumer = ring.CreateConsumer();
        using RingProducer producer = ring.CreateProducer();

        Assert.False(consumer.TryRead(TimeSpan.FromMilliseconds(100), CancellationToken.None, out _));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.ThrowsAny<OperationCanceledException>(() => consumer.TryRead(Timeout.InfiniteTimeSpan, cancellation.Token, out _));
    }

    [Fact]
    public async Task A_hostile_producer_scribbling_over_the_ring_gets_errors_never_a_crash_a_hang_or_an_out_of_bounds_record()
    {
        const int Acts = 200_000;
        int seed = TestSeed.FromEnvironment(defaultSeed: 1503);
        string name = _segments.NewName("ring-hostile");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using var vandal = Peer.Start("ring-vandal", name, Acts.ToString(CultureInfo.InvariantCulture), seed.ToString(CultureInfo.InvariantCulture));
        vandal.Expect("started");
        Task<string?>? finished = null; // "done": the rounds go on until the vandal has told every lie

        long violations = 0, gone = 0, records = 0, writes = 0;
        byte[] message = new byte[100];
        byte[] copy = new byte[ring.MaxMessageSize];
        // Until the vandal says it is done (or, were it to hang, until its line times out and completes the task).
        while (finished?.IsCompleted != true)
        {
            // Each round: fresh ends (a faulted consumer stays faulted), some honest writes, reads until the lie shows.
            try
            {
                using RingProducer producer = ring.CreateProducer();
                using RingConsumer consumer = ring.CreateConsumer();
                if (finished is null)
                {
                    vandal.Send("go"); // the ends are at work: now the lies start
                    finished = Task.Run(vandal.ReadLine);
                }
                for (int i = 0; i < 1000; i++)
                {
                    writes += producer.TryWrite(message, TimeSpan.FromMilliseconds(1)) ? 1 : 0;
                    if (i % 2 == 0 && consumer.TryRead(TimeSpan.FromMilliseconds(1), CancellationToken.None, out RingLease lease))
                    {
                        Assert.InRange(lease.Message.Length, 0, ring.MaxMessageSize);
                        records++;
                        lease.Dispose();
                    }
                    else if (i % 2 == 1 && consumer.TryRead(copy, TimeSpan.FromMilliseconds(1), CancellationToken.None, out int length))
                    {
                        Assert.InRange(length, 0, ring.MaxMessageSize); // also messages in parts: the vandal writes kinds 3 and 4
                        records++;
                    }
                }
            }
            catch (PeerViolationException error)
            {
                Assert.Equal(name, error.SegmentName);
                violations++;
            }
            catch (PeerGoneException)
            {
                gone++; // the vandal set a closed flag
            }
        }
        Assert.Equal("done", await finished!);
        Assert.True(violations > 0, $"seed {seed}: the vandal was never caught ({records} records, {writes} writes, {gone} closed alarms)");
    }

    /// <summary>An explicit second release of one lease is a bug in the caller, and says so.</summary>
    private static void ReleaseTwice(RingConsumer consumer)
    {
        Assert.True(consumer.TryRead(out RingLease lease));
        lease.Release(publish: false);
        lease.Release(publish: false);
    }

}
