using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Membrane.Adapters;

/// <summary>The copying asynchronous write of every producer (a ring's, a queue's), its state machine pooled so that a wait allocates nothing.</summary>
internal static class SinkAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal static async ValueTask WriteAsync(IMessageSink sink, ReadOnlyMemory<byte> message, CancellationToken cancellation)
    {
        while (!sink.TryWrite(message.Span))
        {
            if (!await sink.WaitToWriteAsync(message.Length, cancellation).ConfigureAwait(false))
            {
                throw new ChannelClosedException($"{sink.Description}: the consumer closed its end; nothing more will be read.");
            }
        }
    }
}
