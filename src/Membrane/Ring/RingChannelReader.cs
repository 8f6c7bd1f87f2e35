using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Membrane;

/// <summary>
/// A <see cref="ChannelReader{T}"/> over a ring's consumer: one message per item, each exactly the size of
/// <typeparamref name="T"/>, copied out of the ring. The producer closing its end (its <c>Complete</c> or
/// <c>Dispose</c>) completes <see cref="Completion"/> once everything it wrote has been read; a producer that died
/// faults it with <see cref="PeerGoneException"/>, which <see cref="WaitToReadAsync"/> and <c>ReadAsync</c> then throw.
/// Waits park on the process's futex reactor. Single reader: like the consumer under it, not for concurrent use.
/// </summary>
internal sealed class RingChannelReader<T> : ChannelReader<T>
    where T : unmanaged
{
    private readonly RingConsumer _consumer;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal RingChannelReader(RingConsumer consumer) => _consumer = consumer;

    public override Task Completion => _completion.Task;

    public override bool TryRead(out T item)
    {
        item = default;
        if (!_consumer.TryRead(out RingLease lease))
        {
            return false;
        }
        if (lease.Message.Length != Unsafe.SizeOf<T>())
        {
            int length = lease.Message.Length;
            lease.Release(publish: false); // skip it, or every later read would meet it again
            throw new PeerViolationException($"A message of the channel is not one {typeof(T).Name}.", _consumer.RingName,
                expected: $"messages of {Unsafe.SizeOf<T>()} bytes", found: $"a message of {length} bytes");
        }
        item = MemoryMarshal.Read<T>(lease.Message);
        lease.Release(publish: false); // room goes back in batches (see RingLease.Release), and before the reader parks
        return true;
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (_completion.Task.IsCompleted)
        {
            return _completion.Task.IsFaulted ? ValueTask.FromException<bool>(_completion.Task.Exception!.InnerException!) : ValueTask.FromResult(false);
        }
        ValueTask<bool> waiting = _consumer.WaitToReadAsync(cancellationToken);
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
            _completion.TrySetException(gone); // the producer died
            throw;
        }
    }

    /// <summary>The producer closed its end and everything it published was read: the reader completes; false.</summary>
    private bool Completed()
    {
        _completion.TrySetResult();
        return false;
    }
}
