using System.Diagnostics;

namespace Membrane.Sync;

/// <summary>
/// How long one waiter (an end of a ring, a journal reader) spins before it parks, learned from its last waits. A fixed
/// spin shorter than a kernel wake is a trap for two processes that answer each other: once each has parked, each next
/// wait lasts a wake of the other (20–100 µs on a VM), longer than the spin, so each parks again and every round trip
/// pays two wakes from then on (a journal's 64 B round trip was seen stuck at 48 µs p50 for a whole run, 0.24 µs in the
/// next). So a park that ended within <see cref="Longest"/> doubles the spin (spinning that long would have caught
/// what came), up to <see cref="Longest"/>; a longer park halves it, down to what the user configured. Zero configured
/// means "park at once" and is never changed.
/// </summary>
/// <remarks>
/// The price is a core: a stream whose messages come less than <see cref="Longest"/> apart is spun on from one to the
/// next instead of being slept through. 200 µs covers a round trip of two kernel wakes on the VMs measured (40–200 µs),
/// and leaves a stream of fewer than 5,000 messages a second to sleep between them.
/// </remarks>
internal sealed class AdaptiveSpin
{
    /// <summary>The longest a waiter learns to spin (see the remarks).</summary>
    internal static readonly TimeSpan Longest = TimeSpan.FromMicroseconds(200);

    private static readonly long s_longestTicks = (long)(Longest.TotalSeconds * Stopwatch.Frequency);
    private TimeSpan _configured = SpinThenPark.DefaultSpin;
    private long _currentTicks = (long)(SpinThenPark.DefaultSpin.TotalSeconds * Stopwatch.Frequency);

    /// <summary>What the user set (<c>SpinBeforeParking</c>): the shortest spin, and zero for none at all.</summary>
    internal TimeSpan Configured
    {
        get => _configured;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _configured = value;
            Volatile.Write(ref _currentTicks, ConfiguredTicks);
        }
    }

    /// <summary>How long the next wait spins.</summary>
    internal TimeSpan Current => TimeSpan.FromSeconds(Volatile.Read(ref _currentTicks) / (double)Stopwatch.Frequency);

    private long ConfiguredTicks => (long)(_configured.TotalSeconds * Stopwatch.Frequency);

    /// <summary>A wait ended in progress after <paramref name="parkedTicks"/> of parking (none: nothing to learn).</summary>
    internal void Learn(long parkedTicks)
    {
        long configured = ConfiguredTicks;
        if (parkedTicks <= 0 || configured == 0)
        {
            return;
        }
        long current = Volatile.Read(ref _currentTicks);
        long next = parkedTicks <= s_longestTicks
            ? Math.Min(Math.Max(current, configured) * 2, Math.Max(s_longestTicks, configured))
            : Math.Max(current / 2, configured);
        Volatile.Write(ref _currentTicks, next); // one waiter per instance; a lost update only delays the learning
    }
}
