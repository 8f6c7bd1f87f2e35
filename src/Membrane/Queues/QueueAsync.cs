using System.Runtime.CompilerServices;
using Membrane.Errors;

namespace Membrane.Queues;

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

    /// <summary>A wait for room that ends in the consumer's normal close ends in false (nothing more will be read), not in <see cref="PeerGoneException"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<bool> FalseOnClose(ValueTask<bool> waiting)
    {
        try
        {
            return await waiting.ConfigureAwait(false);
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            return false;
        }
    }
}
