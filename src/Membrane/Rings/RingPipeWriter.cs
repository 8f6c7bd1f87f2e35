using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Adapters;
using Membrane.Native;

namespace Membrane.Rings;

/// <summary>
/// A <see cref="PipeWriter"/> over a ring's producer: the bytes written become messages of up to
/// <see cref="ChunkSize"/> bytes (fewer if the ring's largest message is smaller). <see cref="GetMemory"/> hands out room
/// reserved in the ring itself when the ring has it, so the caller writes in place; when it has not (a full ring, or a
/// size hint larger than a message), a buffer of the writer's, copied in at the next flush, which waits for room.
/// <see cref="FlushAsync"/> publishes. A consumer that closed its end completes the flush
/// (<see cref="FlushResult.IsCompleted"/>); one that died makes it throw <see cref="Errors.PeerGoneException"/>.
/// <see cref="Complete"/> publishes what is written and disposes the producer (the reader's stream ends).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "A PipeWriter's end of life is Complete, which disposes them.")]
internal sealed class RingPipeWriter : PipeWriter
{
    /// <summary>The largest message the writer makes: large enough that a message's header costs nothing, small enough that the reader gets going early.</summary>
    internal const int ChunkSize = 16 * 1024;

    private readonly RingProducer _producer;
    private readonly MappedMemorySlice _inRing = new();
    private readonly int _chunk;
    private readonly PendingCancellation _pendingFlush = new();

    private nint _reserved;      // room reserved in the ring (mapped memory never moves); 0: none
    private int _reservedLength;
    private int _written;        // bytes advanced into it

    private byte[] _spill = [];  // bytes written while the ring had no room, in order after the reservation's
    private int _spilled;
    private bool _lentSpill;     // the last GetMemory lent the spill buffer, not the reservation
    private bool _completed;

    internal RingPipeWriter(RingProducer producer)
    {
        _producer = producer;
        _chunk = Math.Min(ChunkSize, producer.MaxMessageSize);
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written + _spilled;

    public override void Advance(int bytes)
    {
        ThrowIfCompleted();
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (_lentSpill)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _spill.Length - _spilled);
            _spilled += bytes;
        }
        else
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _reservedLength - _written);
            _written += bytes;
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ThrowIfCompleted();
        int wanted = Math.Max(sizeHint, 1);
        if (_spilled == 0)
        {
            if (_reserved != 0 && _reservedLength - _written >= wanted)
            {
                return InRing();
            }
            CloseReservation(publish: false);
            if (wanted <= _chunk && TryReserve())
            {
                return InRing();
            }
        }
        // The ring has no room now (or the hint exceeds a message): the writer's own buffer, after what the ring holds.
        if (_spill.Length - _spilled < wanted)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_spilled + wanted, Math.Max(_chunk, 2 * _spill.Length)));
            _spill.AsSpan(0, _spilled).CopyTo(larger);
            if (_spill.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_spill);
            }
            _spill = larger;
        }
        _lentSpill = true;
        return _spill.AsMemory(_spilled);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfCompleted();
        CloseReservation(publish: true);
        return _spilled == 0 ? ValueTask.FromResult(Flushed(consumerClosed: false)) : FlushSpillAsync(cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> FlushSpillAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration forward = _pendingFlush.Forward(cancellationToken);
        try
        {
            for (int sent = 0; sent < _spilled;)
            {
                int length = Math.Min(_chunk, _spilled - sent);
                await _producer.WriteAsync(_spill.AsMemory(sent, length), _pendingFlush.Token).ConfigureAwait(false);
                sent += length;
                _spill.AsSpan(sent, _spilled - sent).CopyTo(_spill); // what is left moves to the front, so a cancelled flush keeps it in order
                _spilled -= sent;
                sent = 0;
            }
            return Flushed(consumerClosed: false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _pendingFlush.Reset();
            return new FlushResult(isCanceled: true, isCompleted: false); // CancelPendingFlush: what is unsent stays for the next flush
        }
        catch (OperationCanceledException)
        {
            _pendingFlush.Reset();
            throw;
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return Flushed(consumerClosed: true); // the reader's end closed: what is unsent will never be read
        }
    }

    public override void CancelPendingFlush() => _pendingFlush.Cancel();

    /// <summary>Publishes what is written (waiting for room if it must), then disposes the producer: the reader's stream ends.</summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        try
        {
            CloseReservation(publish: true);
            if (exception is null && _spilled > 0)
            {
                for (int sent = 0; sent < _spilled; sent += _chunk)
                {
                    _producer.Write(_spill.AsSpan(sent, Math.Min(_chunk, _spilled - sent)));
                }
            }
        }
        finally
        {
            _completed = true;
            _spilled = 0;
            _producer.Dispose();
            _pendingFlush.Dispose();
        }
    }

    private FlushResult Flushed(bool consumerClosed)
    {
        if (_spilled == 0 && _spill.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_spill);
            _spill = [];
        }
        return new FlushResult(isCanceled: false, isCompleted: consumerClosed);
    }

    private unsafe bool TryReserve()
    {
        if (!_producer.TryReserve(_chunk, out Span<byte> room))
        {
            return false;
        }
        _reserved = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(room));
        _reservedLength = room.Length;
        _written = 0;
        return true;
    }

    private unsafe Memory<byte> InRing()
    {
        _lentSpill = false;
        return _inRing.Point((byte*)_reserved + _written, _reservedLength - _written);
    }

    /// <summary>Commits what was written into the reservation as one message (an empty one if nothing was: the reader skips it).</summary>
    private void CloseReservation(bool publish)
    {
        if (_reserved != 0)
        {
            _producer.Commit(_written, publish);
            _reserved = 0;
            _reservedLength = _written = 0;
        }
        else if (publish)
        {
            _producer.Publish();
        }
    }


    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException($"Ring '{_producer.RingName}': this pipe writer was completed.");
        }
    }
}
