using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Membrane;

/// <summary>The asynchronous loops of a queue's ends (apart because an <c>await</c> cannot sit in their unsafe code).</summary>
internal static class QueueAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<int> ReadAsync(QueueConsumer consumer, Memory<byte> destination, CancellationToken cancellation)
    {
        while (true)
        {
            await consumer.TakeAsync(cancellation).ConfigureAwait(false);
            if (consumer.CopyTaken(destination.Span, out int length))
            {
                return length;
            }
            consumer.ThrowDestinationTooSmall(length, destination.Length);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal static async ValueTask WriteAsync(QueueProducer producer, ReadOnlyMemory<byte> message, CancellationToken cancellation)
    {
        while (true)
        {
            if (producer.ConsumerClosed)
            {
                throw Closed(producer);
            }
            try
            {
                await producer.WaitForRoomAsync(message.Length, cancellation).ConfigureAwait(false);
            }
            catch (PeerGoneException gone) when (gone.ClosedNormally)
            {
                throw Closed(producer);
            }
            if (producer.TryWrite(message.Span))
            {
                return;
            }
        }
    }

    private static ChannelClosedException Closed(QueueProducer producer) =>
        new($"Queue '{producer.QueueName}': the consumer closed its end; nothing more will be read.");
}
