using System.Buffers.Binary;
using System.Globalization;

namespace Membrane.TestPeer;

/// <summary>Verbs that produce into a shared queue from another process. Each message is 16 bytes: the producer's id, then its sequence.</summary>
internal static class QueueVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "queue-write" => Write(name, int.Parse(rest[0], CultureInfo.InvariantCulture), long.Parse(rest[1], CultureInfo.InvariantCulture)),
        "queue-read" => Read(name, long.Parse(rest[0], CultureInfo.InvariantCulture)),
        _ => -1,
    };

    /// <summary>Takes the consumer role, reads and releases <paramref name="count"/> messages (waiting for each), says "read N".</summary>
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
