using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Membrane.Adapters;

/// <summary>
/// A <see cref="ChannelWriter{T}"/> over a producer (a ring's or a queue's): one message per item, each exactly the size
/// of <typeparamref name="T"/>. <see cref="TryComplete"/> disposes the producer (a ring's reader then completes once it
/// has read everything; a queue's goes on with its other producers); an exception given to it cannot cross to the other
/// process and is not sent. A consumer that closed makes <see cref="WaitToWriteAsync"/> return false (and
/// <c>WriteAsync</c> throw <see cref="ChannelClosedException"/>); one that died makes them throw
/// <see cref="Errors.PeerGoneException"/>. Single writer: like the producer under it, not for concurrent use.
/// </summary>
internal sealed class MessageChannelWriter<T> : ChannelWriter<T>
    where T : unmanaged
{
    private readonly IMessageSink _sink;
    private int _completed;

    internal MessageChannelWriter(IMessageSink sink) => _sink = sink;

    public override bool TryWrite(T item) =>
        Volatile.Read(ref _completed) == 0 && _sink.TryWrite(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in item)));

    public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _completed) != 0)
        {
            return ValueTask.FromResult(false);
        }
        return _sink.WaitToWriteAsync(Unsafe.SizeOf<T>(), cancellationToken);
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
            ? $"{_sink.Description}: this channel writer was completed."
            : $"{_sink.Description}: the consumer closed its end; nothing more will be read.");
    }

    /// <summary>Disposes the producer (publishing what it holds); true the first time.</summary>
    public override bool TryComplete(Exception? error = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }
        _sink.Dispose();
        return true;
    }
}
