using System.Buffers;
using System.Runtime.CompilerServices;

namespace Membrane.Journals;

/// <summary>The asynchronous loops of a journal reader (apart because an <c>await</c> cannot sit in its unsafe code).</summary>
internal static class JournalAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<JournalRecord> ReadAsync(JournalReader reader, Memory<byte> destination, CancellationToken cancellation)
    {
        reader.MarkWaiting(true);
        try
        {
            // The caller (JournalReader.ReadAsync) has just tried; the wait's attempts are reads.
            await reader.ReadWhenReadyAsync(destination, cancellation).ConfigureAwait(false);
            JournalRecord record = reader.Waited;
            if (record.Length > destination.Length)
            {
                reader.ThrowDestinationTooSmall(destination.Length, record.Length);
            }
            return record;
        }
        finally
        {
            reader.MarkWaiting(false);
        }
    }

    /// <summary>See <see cref="JournalReader.ReadAllAsync"/>.</summary>
    internal static async IAsyncEnumerable<JournalEntry> ReadAllAsync(JournalReader reader, int slotSize, [EnumeratorCancellation] CancellationToken cancellation)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(slotSize);
        try
        {
            while (true)
            {
                JournalRecord record = await reader.ReadAsync(buffer, cancellation).ConfigureAwait(false);
                yield return new JournalEntry(record.Sequence, record.LostBefore, buffer.AsMemory(0, record.Length), record.AbortedBefore);
                reader.Commit(); // the loop came back: its body is done with the entry
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
