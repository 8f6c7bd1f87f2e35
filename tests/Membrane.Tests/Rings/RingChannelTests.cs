using System.Globalization;
using System.Threading.Channels;
using Membrane.Errors;
using Membrane.Rings;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Rings;

/// <summary>A ring's two ends as <see cref="ChannelWriter{T}"/> and <see cref="ChannelReader{T}"/>, one in each process.</summary>
public sealed class RingChannelTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public async Task A_channel_reader_receives_in_order_every_item_another_process_wrote_and_completes_when_the_writer_completes()
    {
        const long count = 200_000;
        string name = _segments.NewName("chan");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 }); // small: the writer waits for room, the reader for items
        using RingConsumer consumer = ring.CreateConsumer();
        ChannelReader<long> reader = consumer.AsChannelReader<long>();
        using Peer writer = Peer.Start("async-channel-write", name, count.ToString(CultureInfo.InvariantCulture));

        long expected = 0;
        using var timeout = new CancellationTokenSource(s_wait);
        await foreach (long item in reader.ReadAllAsync(timeout.Token))
        {
            Assert.Equal(expected, item);
            expected++;
        }

        Assert.Equal(count, expected);
        await reader.Completion.WaitAsync(s_wait);
        Assert.True(reader.Completion.IsCompletedSuccessfully);
        Assert.False(await reader.WaitToReadAsync());
        Assert.False(reader.TryRead(out _));
        writer.Expect(string.Create(CultureInfo.InvariantCulture, $"done {count}"));
        Assert.Equal(0, writer.Finish());
    }

    [Fact]
    public async Task A_writer_that_dies_faults_the_readers_completion_with_PeerGoneException_after_everything_it_wrote()
    {
        string name = _segments.NewName("chan-dead");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        ChannelReader<long> reader = consumer.AsChannelReader<long>();
        using Peer writer = Peer.Start("async-channel-write", name, "10", "hang");
        writer.Expect("done");
        writer.KillHard();

        var received = new List<long>();
        PeerGoneException gone = await Assert.ThrowsAsync<PeerGoneException>(async () =>
        {
            await foreach (long item in reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(s_wait).Token))
            {
                received.Add(item);
            }
        });

        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), received);
        Assert.False(gone.ClosedNormally);
        Assert.Equal(name, gone.SegmentName);
        await Assert.ThrowsAsync<PeerGoneException>(() => reader.Completion.WaitAsync(s_wait));
    }

    [Fact]
    public async Task A_message_of_another_size_is_a_PeerViolationException_naming_both_sizes_and_is_skipped()
    {
        using var ring = SharedRing.Create(_segments.NewName("chan-size"), new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using RingProducer producer = ring.CreateProducer();
        ChannelReader<long> reader = consumer.AsChannelReader<long>();
        ChannelWriter<long> writer = producer.AsChannelWriter<long>();
        Assert.True(producer.TryWrite([1, 2, 3]));
        await writer.WriteAsync(42);

        PeerViolationException wrong = Assert.Throws<PeerViolationException>(() => reader.TryRead(out _));

        Assert.Contains("8 bytes", wrong.Expected, StringComparison.Ordinal);
        Assert.Contains("3 bytes", wrong.Found, StringComparison.Ordinal);
        Assert.True(reader.TryRead(out long item));
        Assert.Equal(42, item);
    }
}
