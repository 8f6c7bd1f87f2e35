using System.Runtime.CompilerServices;

namespace Membrane;

/// <summary>The asynchronous loops of a journal reader (apart because an <c>await</c> cannot sit in its unsafe code).</summary>
internal static class JournalAsync
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<JournalRecord> ReadAsync(JournalReader reader, Memory<byte> destination, CancellationToken cancellation)
    {
        reader.MarkWaiting(true);
        try
        {
            while (true)
            {
                if (reader.TryRead(destination.Span, out JournalRecord record))
                {
                    return record;
                }
                await reader.WaitForEntryAsync(cancellation).ConfigureAwait(false);
            }
        }
        finally
        {
            reader.MarkWaiting(false);
        }
    }
}
