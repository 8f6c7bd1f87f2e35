using System.Buffers.Binary;
using System.Globalization;
using Membrane.Queues;

namespace Membrane.TestPeer;

/// <summary>Verbs that produce into a shared queue from another process. Each message is 16 bytes: the producer's id, then its sequence.</summary>
internal static class QueueVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "queue-write" => Write(name, int.Parse(rest[0], CultureInfo.InvariantCulture), long.Parse(rest[1], CultureInfo.InvariantCulture)),
        "queue-read" => Read(name, long.Parse(rest[0], CultureInfo.InvariantCulture)),
        "queue-channel-write" => WriteChannel(name, int.Parse(rest[0], CultureInfo.InvariantCulture), long.Parse(rest[1], CultureInfo.InvariantCulture)).GetAwaiter().GetResult(),
        "queue-pipe-write" => WritePipe(name, int.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture)).GetAwaiter().GetResult(),
        _ => -1,
    };

    /// <summary>An item of <c>queue-channel-write</c>: the producer's id in the high 24 bits, its sequence below.</summary>
    internal static long ChannelItem(int id, long sequence) => ((long)id << 40) | sequence;

    /// <summary>
    /// Takes a producer slot, says "producing", writes <paramref name="count"/> <see cref="ChannelItem"/>s through the
    /// producer's channel writer (awaiting room), completes it, says "written N".
    /// </summary>
    private static async Task<int> WriteChannel(string name, int id, long count)
    {
        using var queue = SharedQueue.Open(name);
        System.Threading.Channels.ChannelWriter<long> writer = queue.CreateProducer().AsChannelWriter<long>();
        Verbs.Say("producing");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (long sequence = 0; sequence < count; sequence++)
        {
            await writer.WriteAsync(ChannelItem(id, sequence), timeout.Token);
        }
        writer.Complete();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
        return 0;
    }

    /// <summary>
    /// The frame <paramref name="sequence"/> of producer <paramref name="id"/> of <c>queue-pipe-write</c>, into
    /// <paramref name="destination"/>: <c>[length i32 | id i32 | sequence i64 | body]</c>, the body 0 to 3,000 bytes each
    /// derived from all three, its length too; returns the frame's length.
    /// </summary>
    internal static int Frame(Span<byte> destination, int id, long sequence)
    {
        int body = (int)((((ulong)sequence * 2654435761UL) + (ulong)id) % 3001);
        BinaryPrimitives.WriteInt32LittleEndian(destination, 16 + body);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], id);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], sequence);
        for (int i = 0; i < body; i++)
        {
            destination[16 + i] = (byte)(sequence + (i * 7) + id);
        }
        return 16 + body;
    }

    /// <summary>
    /// Takes a producer slot, says "producing", writes <paramref name="frames"/> <see cref="Frame"/>s through the
    /// producer's pipe writer, one to three whole frames a flush (a flush is one message), completes it, says "written N".
    /// </summary>
    private static async Task<int> WritePipe(string name, int id, int frames)
    {
        using var queue = SharedQueue.Open(name);
        System.IO.Pipelines.PipeWriter writer = queue.CreateProducer().AsPipeWriter();
        Verbs.Say("producing");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (int sequence = 0; sequence < frames; sequence++)
        {
            writer.Advance(Frame(writer.GetSpan(16 + 3000), id, sequence));
            if (sequence % 3 != id % 3)
            {
                continue; // this frame goes with the next in one message
            }
            if ((await writer.FlushAsync(timeout.Token)).IsCompleted)
            {
                Verbs.Say("consumer closed");
                return 3;
            }
        }
        await writer.CompleteAsync();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"written {frames}"));
        return 0;
    }

    /// <summary>
    /// Takes the consumer role, reads and releases <paramref name="count"/> messages (waiting for each; each must carry its
    /// sequence 0, 1, ... at byte 8), says "read N".
    /// </summary>
    private static int Read(string name, long count)
    {
        using var queue = SharedQueue.Open(name);
        using QueueConsumer consumer = queue.CreateConsumer();
        var message = new byte[16];
        for (long i = 0; i < count; i++)
        {
            if (!consumer.TryRead(message, TimeSpan.FromSeconds(60), CancellationToken.None, out _))
            {
                Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"stuck at {i}"));
                return 3;
            }
            if (BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(8)) != i)
            {
                Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"message {BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(8))} where {i} was due"));
                return 4;
            }
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"read {count}"));
        return 0;
    }

    /// <summary>
    /// Takes a producer slot, says "producing SLOT", writes <paramref name="count"/> messages tagged with
    /// <paramref name="id"/> and their sequence (waiting for room), then says "written N".
    /// </summary>
    private static int Write(string name, int id, long count)
    {
        using var queue = SharedQueue.Open(name);
        using QueueProducer producer = queue.CreateProducer();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"producing {producer.Slot}"));
        Span<byte> message = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(message, id);
        for (long sequence = 0; sequence < count; sequence++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(message[8..], sequence);
            if (!producer.TryWrite(message, TimeSpan.FromSeconds(60)))
            {
                Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"stuck at {sequence}"));
                return 3;
            }
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
        return 0;
    }
}
