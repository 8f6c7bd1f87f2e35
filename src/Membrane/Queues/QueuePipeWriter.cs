using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Membrane.Adapters;

namespace Membrane.Queues;

/// <summary>
/// A <see cref="PipeWriter"/> over a queue's producer: the bytes written between two flushes go as one message, so that
/// frames written whole between flushes reach the consumer whole, however the producers' messages interleave. The bytes
/// gather in a pooled buffer of the writer's and are copied in at the flush: unlike a ring's pipe writer, this one never
/// lends a claim in the queue, as a claim held across the caller's code would hold up every producer's messages behind
/// it. A consumer that closed its end completes the flush (<see cref="FlushResult.IsCompleted"/>); one that died makes
/// it throw <see cref="Errors.PeerGoneException"/>. <see cref="Complete"/> sends what is written and disposes the producer.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "A PipeWriter's end of life is Complete, which disposes them.")]
internal sealed class QueuePipeWriter : PipeWriter
{
    private readonly QueueProducer _producer;
    private readonly PendingCancellation _pendingFlush = new();
    private byte[] _buffer = [];
    private int _written;
    private bool _completed;

    internal QueuePipeWriter(QueueProducer producer) => _producer = producer;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written;

    public override void Advance(int bytes)
    {
        ThrowIfCompleted();
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _buffer.Length - _written);
        if (_written + bytes > _producer.MaxMessageSize)
        {
            throw new InvalidOperationException(
                $"Queue '{_producer.QueueName}': {_written + bytes} bytes before a flush; each flush is one message, of at most {_producer.MaxMessageSize} bytes.");
        }
        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ThrowIfCompleted();
        int wanted = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written < wanted)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_written + wanted, Math.Max(4096, 2 * _buffer.Length)));
            _buffer.AsSpan(0, _written).CopyTo(larger);
            ReturnBuffer();
            _buffer = larger;
        }
        return _buffer.AsMemory(_written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfCompleted();
        if (_written == 0)
        {
            return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: false));
        }
        return _producer.TryWrite(_buffer.AsSpan(0, _written)) ? ValueTask.FromResult(Sent()) : FlushWaitingAsync(cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> FlushWaitingAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration forward = _pendingFlush.Forward(cancellationToken);
        try
        {
            await _producer.WriteAsync(_buffer.AsMemory(0, _written), _pendingFlush.Token).ConfigureAwait(false);
            return Sent();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _pendingFlush.Reset();
            return new FlushResult(isCanceled: true, isCompleted: false); // CancelPendingFlush: the message stays for the next flush
        }
        catch (OperationCanceledException)
        {
            _pendingFlush.Reset();
            throw;
        }
        catch (ChannelClosedException)
        {
            _written = 0;
            return new FlushResult(isCanceled: false, isCompleted: true); // the consumer's end closed: it will never be read
        }
    }

    public override void CancelPendingFlush() => _pendingFlush.Cancel();

    /// <summary>Sends what is written (waiting for room if it must, unless the consumer closed), then disposes the producer.</summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        try
        {
            if (exception is null && _written > 0)
            {
                _producer.TryWrite(_buffer.AsSpan(0, _written), Timeout.InfiniteTimeSpan); // false: the consumer closed, nothing would be read
            }
        }
        finally
        {
            _completed = true;
            _written = 0;
            ReturnBuffer();
            _producer.Dispose();
            _pendingFlush.Dispose();
        }
    }

    private FlushResult Sent()
    {
        _written = 0;
        return new FlushResult(isCanceled: false, isCompleted: false);
    }

    private void ReturnBuffer()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException($"Queue '{_producer.QueueName}': this pipe writer was completed.");
        }
    }
}
