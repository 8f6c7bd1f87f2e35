using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Native;

namespace Membrane.Adapters;

/// <summary>
/// A <see cref="PipeReader"/> over a consumer (a ring's or a queue's): the messages, concatenated, as one byte stream.
/// The buffer a read returns is the segment's own memory (one message, from where the caller's last
/// <see cref="AdvanceTo(SequencePosition, SequencePosition)"/> left it) whenever it can be; only when the caller has
/// examined all of it and asks for more is the rest copied into a buffer of the reader's and the next message appended
/// there. A message is released (its room returned in batches) once consumed. The end of the stream (a ring producer's
/// close) completes the read (<see cref="ReadResult.IsCompleted"/>); a peer that died makes it throw
/// <see cref="Errors.PeerGoneException"/>. <see cref="Complete"/> disposes the consumer. Single reader, as every <see cref="PipeReader"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "A PipeReader's end of life is Complete, which disposes them.")]
internal sealed class MessagePipeReader : PipeReader
{
    private readonly IMessageSource _consumer;
    private readonly MappedMemorySlice _inPlace = new();
    private readonly PendingCancellation _pendingRead = new();

    // In place: a leased message of the ring, and how much of it is consumed.
    private nint _leased; // its address (mapped memory never moves); 0: none
    private int _leasedLength;
    private int _leasedConsumed;

    // Copied: bytes gathered from several messages, from _copyStart to _copyEnd.
    private byte[] _copy = [];
    private int _copyStart;
    private int _copyEnd;

    private ReadOnlySequence<byte> _shown;
    private bool _wantsMore;      // the last AdvanceTo examined all it was shown: the next read brings more
    private bool _ended;          // the stream ended (a ring's producer closed) and everything in it was read
    private bool _completed;

    internal MessagePipeReader(IMessageSource consumer) => _consumer = consumer;

    private bool InPlace => _leased != 0;

    private int Unconsumed => InPlace ? _leasedLength - _leasedConsumed : _copyEnd - _copyStart;

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfCompleted();
        if (_pendingRead.IsCancellationRequested)
        {
            _pendingRead.Reset();
            result = new ReadResult(Show(), isCanceled: true, isCompleted: false);
            return true;
        }
        if ((Unconsumed > 0 && !_wantsMore) || TakeMessage())
        {
            _wantsMore = false;
            result = new ReadResult(Show(), isCanceled: false, isCompleted: false);
            return true;
        }
        result = new ReadResult(Show(), isCanceled: false, isCompleted: _ended);
        return _ended;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        TryRead(out ReadResult result) ? ValueTask.FromResult(result) : WaitAndReadAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> WaitAndReadAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration forward = _pendingRead.Forward(cancellationToken);
        while (true)
        {
            try
            {
                _ended = !await _consumer.WaitToReadAsync(_pendingRead.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _pendingRead.Reset();
                throw new OperationCanceledException(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // CancelPendingRead: TryRead below reports it.
            }
            if (TryRead(out ReadResult result))
            {
                return result;
            }
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        ThrowIfCompleted();
        int consumedBytes = (int)_shown.Slice(_shown.Start, consumed).Length;
        bool examinedAll = _shown.Slice(_shown.Start, examined).Length == _shown.Length;
        if (InPlace)
        {
            _leasedConsumed += consumedBytes;
            if (_leasedConsumed == _leasedLength)
            {
                ReleaseLease();
            }
        }
        else
        {
            _copyStart += consumedBytes;
        }
        _wantsMore = examinedAll && Unconsumed > 0;
        _shown = default;
    }

    public override void CancelPendingRead() => _pendingRead.Cancel();

    /// <summary>Releases what is leased and closes the consumer's end (the producer hears it closed).</summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        if (InPlace)
        {
            ReleaseLease();
        }
        _consumer.Dispose();
        _pendingRead.Dispose();
    }

    /// <summary>
    /// Takes the next message, if one is there: in place if nothing is unconsumed, else appended to the copy (what is
    /// left of a message in place moving there first). Zero-length messages are skipped. False if none came.
    /// </summary>
    private unsafe bool TakeMessage()
    {
        if (InPlace)
        {
            Gather(new ReadOnlySpan<byte>((byte*)_leased + _leasedConsumed, _leasedLength - _leasedConsumed));
            ReleaseLease();
        }
        while (_consumer.TryLend(out ReadOnlySpan<byte> message))
        {
            if (message.IsEmpty)
            {
                _consumer.Release(publish: false);
                continue;
            }
            if (Unconsumed == 0)
            {
                _copyStart = _copyEnd = 0;
                _leased = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(message));
                _leasedLength = message.Length;
                _leasedConsumed = 0;
                return true; // held: released by AdvanceTo once consumed
            }
            Gather(message);
            _consumer.Release(publish: false);
            return true;
        }
        return false;
    }

    /// <summary>Appends <paramref name="bytes"/> to the copy, growing it (and moving its content to the front) as needed.</summary>
    private void Gather(ReadOnlySpan<byte> bytes)
    {
        int unconsumed = _copyEnd - _copyStart;
        if (_copy.Length - _copyEnd < bytes.Length)
        {
            byte[] larger = _copy.Length >= unconsumed + bytes.Length ? _copy : ArrayPool<byte>.Shared.Rent(Math.Max(unconsumed + bytes.Length, 2 * _copy.Length));
            _copy.AsSpan(_copyStart, unconsumed).CopyTo(larger);
            if (larger != _copy && _copy.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_copy);
            }
            _copy = larger;
            _copyStart = 0;
            _copyEnd = unconsumed;
        }
        bytes.CopyTo(_copy.AsSpan(_copyEnd));
        _copyEnd += bytes.Length;
    }

    private void ReleaseLease()
    {
        _leased = 0;
        _leasedLength = _leasedConsumed = 0;
        _consumer.Release(publish: false); // returned in batches, and before the consumer parks
    }

    private unsafe ReadOnlySequence<byte> Show()
    {
        _shown = InPlace
            ? new ReadOnlySequence<byte>(_inPlace.Point((byte*)_leased + _leasedConsumed, _leasedLength - _leasedConsumed))
            : new ReadOnlySequence<byte>(_copy, _copyStart, _copyEnd - _copyStart);
        return _shown;
    }


    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException($"{_consumer.Description}: this pipe reader was completed.");
        }
    }
}
