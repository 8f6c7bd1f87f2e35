using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Membrane.Queues;
using Membrane.Tests.Infrastructure;
using QueueVerbs = Membrane.TestPeer.QueueVerbs;

namespace Membrane.Tests.Queues;

/// <summary>A shared queue's ends as Channels and Pipelines, with producers in other processes.</summary>
public sealed class QueueAdapterTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_channel_reader_gets_every_item_of_two_producer_processes_channel_writers_each_in_order_and_never_completes_by_itself()
    {
        const long count = 100_000;
        string name = _segments.NewName("queue-channel");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 16 * 1024 }); // small: both sides wait
        using QueueConsumer consumer = queue.CreateConsumer();
        ChannelReader<long> reader = consumer.AsChannelReader<long>();
        using Peer first = Peer.Start("queue-channel-write", name, "0", Text(count));
        using Peer second = Peer.Start("queue-channel-write", name, "1", Text(count));

        var next = new long[2];
        using var timeout = new CancellationTokenSource(s_wait);
        for (long i = 0; i < 2 * count; i++)
        {
            long item = await reader.ReadAsync(timeout.Token);
            int id = (int)(item >> 40);
            Assert.Equal(QueueVerbs.ChannelItem(id, next[id]++), item);
        }

        Assert.Equal([count, count], next);
        foreach (Peer peer in new[] { first, second })
        {
            peer.Expect("producing");
            peer.Expect($"written {Text(count)}");
            Assert.Equal(0, peer.Finish());
        }
        Assert.False(reader.Completion.IsCompleted); // both writers completed: a queue goes on (others may come)
        Assert.False(reader.TryRead(out _));
        Assert.Empty(queue.ReadProducers()); // each writer's Complete gave its slot back
    }

    [Fact]
    public async Task A_pipe_reader_gets_every_frame_of_two_producer_processes_pipe_writers_whole_each_in_order()
    {
        const int frames = 5_000;
        string name = _segments.NewName("queue-pipe");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 64 * 1024 });
        PipeReader reader = queue.CreateConsumer().AsPipeReader();
        using Peer first = Peer.Start("queue-pipe-write", name, "0", Text(frames));
        using Peer second = Peer.Start("queue-pipe-write", name, "1", Text(frames));
        using var timeout = new CancellationTokenSource(s_wait);

        var next = new long[2];
        int inPlace = 0;
        byte[] expected = new byte[16 + 3000];
        while (next[0] + next[1] < 2 * frames)
        {
            ReadResult read = await reader.ReadAsync(timeout.Token);
            ReadOnlySequence<byte> buffer = read.Buffer;
            inPlace += buffer.IsEmpty || MemoryMarshal.TryGetArray(buffer.First, out _) ? 0 : 1;
            while (TryTakeFrame(ref buffer, out ReadOnlySequence<byte> frame))
            {
                int id = BinaryPrimitives.ReadInt32LittleEndian(frame.Slice(4, 4).ToArray());
                int length = QueueVerbs.Frame(expected, id, next[id]++);
                Assert.True(frame.ToArray().AsSpan().SequenceEqual(expected.AsSpan(0, length)), $"frame {next[id] - 1} of producer {id} is not whole");
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        Assert.Equal([frames, frames], next);
        Assert.True(inPlace > 0, "no read was served from the queue's memory");
        foreach (Peer peer in new[] { first, second })
        {
            peer.Expect("producing");
            peer.Expect($"written {Text(frames)}");
            Assert.Equal(0, peer.Finish());
        }
        await reader.CompleteAsync();
    }

    [Fact]
    public async Task A_pipe_writer_refuses_more_than_one_message_between_flushes_and_completes_once_the_consumer_closed()
    {
        string name = _segments.NewName("queue-pipe-limits");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 4096 });
        PipeWriter writer = queue.CreateProducer().AsPipeWriter();
        QueueConsumer consumer = queue.CreateConsumer();

        writer.GetSpan(queue.MaxMessageSize);
        writer.Advance(queue.MaxMessageSize);
        var refused = Assert.Throws<InvalidOperationException>(() =>
        {
            writer.GetSpan(1);
            writer.Advance(1);
        });
        Assert.Contains(name, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"at most {Text(queue.MaxMessageSize)} bytes", refused.Message, StringComparison.Ordinal);
        Assert.False((await writer.FlushAsync()).IsCompleted);
        Assert.True(consumer.TryRead(new byte[queue.MaxMessageSize], out int length)); // the one message, whole
        Assert.Equal(queue.MaxMessageSize, length);

        consumer.Dispose();
        writer.Write(new byte[1]);
        Assert.False((await writer.FlushAsync()).IsCompleted); // room is there: sent, though nobody will read it
        bool completed = false;
        for (int flush = 0; flush < 3 && !completed; flush++) // two half-queue messages fill it
        {
            writer.Write(new byte[queue.MaxMessageSize]);
            completed = (await writer.FlushAsync()).IsCompleted; // once no room is left, none will come: the consumer closed
        }
        Assert.True(completed);
        await writer.CompleteAsync();

        ChannelWriter<long> channel = queue.CreateProducer().AsChannelWriter<long>();
        using var timeout = new CancellationTokenSource(s_wait);
        var closed = await Assert.ThrowsAsync<ChannelClosedException>(async () =>
        {
            while (true)
            {
                await channel.WriteAsync(1, timeout.Token); // into the room left, then no more
            }
        });
        Assert.Contains(name, closed.Message, StringComparison.Ordinal);
        Assert.True(channel.TryComplete());
        Assert.False(await channel.WaitToWriteAsync(timeout.Token));
    }

    /// <summary>Takes one whole frame (<see cref="QueueVerbs.Frame"/>) off the front of <paramref name="buffer"/>, if it holds one.</summary>
    private static bool TryTakeFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(header);
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (buffer.Length < length)
        {
            return false;
        }
        frame = buffer.Slice(0, length);
        buffer = buffer.Slice(length);
        return true;
    }
}
