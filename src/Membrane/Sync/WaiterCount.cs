namespace Membrane.Sync;

/// <summary>
/// A count in shared memory of the waiters parked (or about to park) on one futex word, which the publisher reads after
/// each publication to learn whether a wake is needed. Its low 16 bits are the waiters counted in; its high 16 bits
/// count every counting-in, wrapping. A process that takes back what dead waiters left in the count
/// (<see cref="Journals.Journal.RepairParkedReaders"/>) compares the whole word: a waiter that counted itself out and in again
/// since the repairer looked leaves the same number of waiters but not the same word, so the repair fails instead of
/// taking out a live waiter, whose wake would then be lost.
/// </summary>
internal static class WaiterCount
{
    /// <summary>What counting in adds: one waiter, one counting-in.</summary>
    internal const int CountingIn = 0x1_0001;

    /// <summary>The waiters counted in (at most 65,535: a journal has at most 1,024 cursors, a ring one waiter a side).</summary>
    internal const int WaitersMask = 0xFFFF;

    /// <summary>Counts a waiter in (a full fence: it precedes the waiter's last look at the word).</summary>
    internal static void CountIn(ref int word) => Interlocked.Add(ref word, CountingIn);

    /// <summary>Counts a waiter out; never borrows from the high half, as only a waiter counted in counts itself out.</summary>
    internal static void CountOut(ref int word) => Interlocked.Decrement(ref word);

    /// <summary>The waiters counted in a value of the word.</summary>
    internal static int Waiters(int word) => word & WaitersMask;

    /// <summary>The word with <paramref name="dead"/> waiters taken out, its counting-ins unchanged.</summary>
    internal static int Without(int word, int dead) => word - dead;
}
