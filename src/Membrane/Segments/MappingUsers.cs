using System.Diagnostics;

namespace Membrane.Segments;

/// <summary>
/// The handles that use one mapping: a journal and the writer and readers made from it, a ring and its two ends. The
/// mapping is released only when the last of them is disposed, so disposing a journal before its writer (or a ring
/// before its producer) never leaves the writer's next append, or the metrics thread, on unmapped memory; and none of
/// them pays for a check on its hot path. Each handle's own use after its own <c>Dispose</c> is refused by the handle.
/// </summary>
[DebuggerDisplay("{_count} users")]
internal sealed class MappingUsers(Action release)
{
    private int _count = 1; // the owner's: the journal or ring handle itself

    /// <summary>Counts one more user (a writer, a reader, an end); fails once the mapping is released.</summary>
    internal void Add(object owner) => ObjectDisposedException.ThrowIf(!TryAdd(), owner);

    /// <summary>Counts one more user, unless the mapping is already released (then false).</summary>
    internal bool TryAdd()
    {
        while (true)
        {
            int count = Volatile.Read(ref _count);
            if (count == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _count, count + 1, count) == count)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Counts one more user for as long as <paramref name="claim"/> (taking its role) succeeds: if it throws, the
    /// count is taken back and the exception goes on.
    /// </summary>
    internal void Add(object owner, Action claim)
    {
        Add(owner);
        try
        {
            claim();
        }
        catch
        {
            Remove();
            throw;
        }
    }

    /// <summary>One user is done; the last one releases the mapping.</summary>
    internal void Remove()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            release();
        }
    }
}
