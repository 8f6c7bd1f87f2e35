using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Membrane;

/// <summary>
/// A <see cref="ChannelWriter{T}"/> over a ring's producer: one message per item, each exactly the size of
/// <typeparamref name="T"/>. <see cref="TryComplete"/> closes the producer's end (the reader completes once it has read
/// everything); an exception given to it cannot cross to the other process and is not sent. A consumer that closed
/// makes <see cref="WaitToWriteAsync"/> return false (and <c>WriteAsync</c> throw
/// <see cref="ChannelClosedException"/>); one that died makes them throw <see cref="PeerGoneException"/>. Single writer: like the producer under it, not for
/// concurrent use.
/// </summary>
internal sealed class RingChannelWriter<T> : ChannelWriter<T>
    where T : unmanaged
{
    private readonly RingProducer _producer;
    private int _completed;

    internal RingChannelWriter(RingProducer producer) => _producer = producer;

    public override bool TryWrite(T item) =>
        Volatile.Read(ref _completed) == 0 && _producer.TryWrite(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in item)));

    public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _completed) != 0)
        {
            return ValueTask.FromResult(false);
        }
        return _producer.WaitToWriteAsync(Unsafe.SizeOf<T>(), cancellationToken);
    }

    public override ValueTask WriteAsync(T item, CancellationToken cancellationToken = default) =>
        TryWrite(item) ? ValueTask.CompletedTask : WriteSlowlyAsync(item, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowlyAsync(T item, CancellationToken cancellationToken)
    {
        while (await WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryWrite(item))
            {
                return;
            }
        }
        throw new ChannelClosedException(Volatile.Read(ref _completed) != 0
            ? $"Ring '{_producer.RingName}': this channel writer was completed."
            : $"Ring '{_producer.RingName}': the consumer closed its end; nothing more will be read.");
    }

    /// <summary>Closes the producer's end (publishing what it holds); true the first time.</summary>
    public override bool TryComplete(Exception? error = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }
        _producer.Dispose();
        return true;
    }
}
