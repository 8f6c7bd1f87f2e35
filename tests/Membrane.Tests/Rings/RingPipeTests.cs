using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Membrane.Rings;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Rings;

/// <summary>A ring's two ends as <see cref="PipeWriter"/> and <see cref="PipeReader"/>.</summary>
public sealed class RingPipeTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public async Task A_pipe_reader_gets_every_frame_another_process_wrote_through_a_pipe_writer_across_message_boundaries_then_the_end()
    {
        const int frames = 3000;
        string name = _segments.NewName("pipe");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 64 * 1024 }); // smaller than what goes through: both sides wait
        PipeReader reader = ring.CreateConsumer().AsPipeReader();
        using Peer writer = Peer.Start("async-pipe-write", name, frames.ToString(CultureInfo.InvariantCulture), "17");
        using var timeout = new CancellationTokenSource(s_wait);

        long received = 0;
        int inRing = 0;
        while (true)
        {
            ReadResult read = await reader.ReadAsync(timeout.Token);
            ReadOnlySequence<byte> buffer = read.Buffer;
            inRing += buffer.IsEmpty || MemoryMarshal.TryGetArray(buffer.First, out _) ? 0 : 1;
            while (TryTakeFrame(ref buffer, out long sequence))
            {
                Assert.Equal(received, sequence);
                received++;
            }
            reader.AdvanceTo(buffer.Start, buffer.End); // a frame cut short: examined all, wants more
            if (read.IsCompleted)
            {
                Assert.True(buffer.IsEmpty, $"{buffer.Length} bytes of a frame left when the stream ended");
                break;
            }
        }

        Assert.Equal(frames, received);
        Assert.True(inRing > 0, "no read was served from the ring's memory");
        writer.Expect(string.Create(CultureInfo.InvariantCulture, $"done {frames}"));
        Assert.Equal(0, writer.Finish());
        await reader.CompleteAsync();
    }

    [Fact]
    public async Task A_read_lends_the_message_in_the_ring_and_a_partial_advance_shows_the_rest_of_it_in_place()
    {
        using var ring = SharedRing.Create(_segments.NewName("pipe-lend"), new RingOptions { Capacity = 4096 });
        using RingProducer producer = ring.CreateProducer();
        PipeReader reader = ring.CreateConsumer().AsPipeReader();
        Assert.True(producer.TryWrite("hello, ring"u8));

        ReadResult first = await reader.ReadAsync();
        Assert.False(MemoryMarshal.TryGetArray(first.Buffer.First, out _));
        Assert.Equal("hello, ring"u8.ToArray(), first.Buffer.ToArray());
        reader.AdvanceTo(first.Buffer.GetPosition(7));
        ReadResult rest = await reader.ReadAsync();
        Assert.Equal("ring"u8.ToArray(), rest.Buffer.ToArray());
        Assert.False(MemoryMarshal.TryGetArray(rest.Buffer.First, out _));
        reader.AdvanceTo(rest.Buffer.End);
        Assert.False(reader.TryRead(out _));

        await reader.CompleteAsync();
    }

    [Fact]
    public async Task Streams_from_the_pipes_carry_bytes_between_the_ends_and_the_writers_end_ends_the_readers_stream()
    {
        using var ring = SharedRing.Create(_segments.NewName("pipe-stream"), new RingOptions { Capacity = 8192 });
        byte[] sent = new byte[200_000];
        new Random(3).NextBytes(sent);
        await using Stream output = ring.CreateProducer().AsPipeWriter().AsStream();
        await using Stream input = ring.CreateConsumer().AsPipeReader().AsStream();

        Task writing = Task.Run(async () =>
        {
            await output.WriteAsync(sent);
            await output.DisposeAsync();
        });
        using var received = new MemoryStream();
        await input.CopyToAsync(received).WaitAsync(s_wait);
        await writing.WaitAsync(s_wait);

        Assert.Equal(sent, received.ToArray());
    }

    /// <summary>Takes one whole frame off the front of <paramref name="buffer"/> and checks its payload; false if it is not all there.</summary>
    private static bool TryTakeFrame(ref ReadOnlySequence<byte> buffer, out long sequence)
    {
        sequence = -1;
        if (buffer.Length < 12)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[12];
        buffer.Slice(0, 12).CopyTo(header);
        int length = BitConverter.ToInt32(header);
        if (buffer.Length < 12 + length)
        {
            return false;
        }
        sequence = BitConverter.ToInt64(header[4..]);
        byte[] payload = buffer.Slice(12, length).ToArray();
        for (int j = 0; j < length; j++)
        {
            Assert.Equal((byte)((sequence * 31) + j), payload[j]);
        }
        buffer = buffer.Slice(12 + length);
        return true;
    }
}
