using System.Runtime.CompilerServices;

namespace Membrane;

/// <summary>The copying asynchronous loops of both ring ends (apart because an <c>await</c> cannot sit in their unsafe code), their
/// state machines pooled so that a wait allocates nothing in steady state.</summary>
internal static class RingAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal static async ValueTask WriteAsync(RingProducer producer, ReadOnlyMemory<byte> message, CancellationToken cancellation)
    {
        while (!producer.TryWrite(message.Span))
        {
            await producer.WaitToWriteAsync(message.Length, Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<int> ReadAsync(RingConsumer consumer, Memory<byte> destination, CancellationToken cancellation)
    {
        int length;
        while (!consumer.TryRead(destination.Span, out length))
        {
            await consumer.WaitToReadAsync(Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        }
        return length;
    }
}
