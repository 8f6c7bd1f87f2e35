using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Membrane.Errors;

namespace Membrane.Adapters;

/// <summary>
/// A <see cref="ChannelReader{T}"/> over a consumer (a ring's or a queue's): one message per item, each exactly the size
/// of <typeparamref name="T"/>, copied out. The end of the stream (a ring producer's close, once everything it wrote was
/// read) completes <see cref="Completion"/>; a peer that died faults it with <see cref="Errors.PeerGoneException"/>, which
/// <see cref="WaitToReadAsync"/> and <c>ReadAsync</c> then throw. Waits park on the process's futex reactor. Single
/// reader: like the consumer under it, not for concurrent use.
/// </summary>
internal sealed class MessageChannelReader<T> : ChannelReader<T>
    where T : unmanaged
{
    private readonly IMessageSource _source;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MessageChannelReader(IMessageSource source) => _source = source;

    public override Task Completion => _completion.Task;

    public override bool TryRead(out T item)
    {
        item = default;
        if (!_source.TryLend(out ReadOnlySpan<byte> message))
        {
            return false;
        }
        if (message.Length != Unsafe.SizeOf<T>())
        {
            int length = message.Length;
            _source.Release(publish: false); // skip it, or every later read would meet it again
            throw new PeerViolationException($"A message of the channel is not one {typeof(T).Name}.", _source.SegmentName,
                expected: $"messages of {Unsafe.SizeOf<T>()} bytes", found: $"a message of {length} bytes");
        }
        item = MemoryMarshal.Read<T>(message);
        _source.Release(publish: false); // room goes back in batches, and before the consumer parks
        return true;
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (_completion.Task.IsCompleted)
        {
            return _completion.Task.IsFaulted ? ValueTask.FromException<bool>(_completion.Task.Exception!.InnerException!) : ValueTask.FromResult(false);
        }
        ValueTask<bool> waiting = _source.WaitToReadAsync(cancellationToken);
        return waiting.IsCompletedSuccessfully ? ValueTask.FromResult(waiting.Result || Completed()) : WaitAsync(waiting);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WaitAsync(ValueTask<bool> waiting)
    {
        try
        {
            return await waiting.ConfigureAwait(false) || Completed();
        }
        catch (PeerGoneException gone)
        {
            _completion.TrySetException(gone); // the peer died
            throw;
        }
    }

    /// <summary>The stream ended and everything in it was read: the reader completes; false.</summary>
    private bool Completed()
    {
        _completion.TrySetResult();
        return false;
    }
}
