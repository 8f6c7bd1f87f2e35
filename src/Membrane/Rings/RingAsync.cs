using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Membrane.Errors;

namespace Membrane.Rings;

/// <summary>The copying asynchronous read of a ring's consumer (apart because an <c>await</c> cannot sit in their unsafe code), their
/// state machines pooled so that a wait allocates nothing in steady state.</summary>
internal static class RingAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<int> ReadAsync(RingConsumer consumer, Memory<byte> destination, CancellationToken cancellation)
    {
        // A message in parts is copied part by part as the producer publishes them, awaiting between parts.
        var progress = default(RingConsumer.PartsProgress);
        while (true)
        {
            if (consumer.TryReadStep(destination.Span, ref progress, out int length, out long waitPast))
            {
                return length;
            }
            if (length > destination.Length)
            {
                throw new ArgumentException($"Ring '{consumer.RingName}': the message is {length} bytes, the destination {destination.Length} (it stays unread).", nameof(destination));
            }
            if (waitPast >= 0)
            {
                await consumer.WaitForTailPastAsync(waitPast, cancellation).ConfigureAwait(false);
            }
            else if (!await consumer.WaitToReadAsync(cancellation).ConfigureAwait(false))
            {
                throw new ChannelClosedException($"Ring '{consumer.RingName}': the producer closed its end and every message it published was read.");
            }
        }
    }

    /// <summary>
    /// A wait that ends in the peer's normal close ends in false (completion), not in <see cref="PeerGoneException"/>;
    /// <paramref name="end"/> remembers it (<c>IsCompleted</c>).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<bool> FalseOnCompletion(ICompletableEnd end, ValueTask<bool> waiting)
    {
        try
        {
            return await waiting.ConfigureAwait(false);
        }
        catch (PeerGoneException gone) when (gone.ClosedNormally)
        {
            end.MarkCompleted();
            return false;
        }
    }
}

/// <summary>A ring end that can hear its peer's normal close as completion.</summary>
internal interface ICompletableEnd
{
    void MarkCompleted();
}
