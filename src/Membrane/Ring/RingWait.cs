using System.Diagnostics;
using Membrane.Sync;

namespace Membrane;

/// <summary>
/// How either end of a ring waits for the other: try, spin about 20 µs, then park on the other end's index. Parking
/// announces itself first (the flag the other end checks after each publication) and re-checks before sleeping, so
/// a publication is never missed; sleeps are sliced so that a peer that died or closed is noticed, not waited on.
/// </summary>
internal static unsafe class RingWait
{
    private static readonly long s_spinTicks = Stopwatch.Frequency / 50_000; // 20 µs
    private static readonly TimeSpan s_slice = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until <paramref name="attempt"/> succeeds; false when <paramref name="timeout"/> passes first.</summary>
    /// <param name="state">What the callbacks work on.</param>
    /// <param name="attempt">Tries once; true when done.</param>
    /// <param name="throwIfPeerGone">Throws if the other end cannot make progress any more.</param>
    /// <param name="waitingFlag">This end's "I am parked" flag in shared memory.</param>
    /// <param name="futexWord">The other end's index (low half), which changes when it publishes.</param>
    /// <param name="timeout">How long to wait at most (infinite allowed).</param>
    /// <param name="cancellation">Ends the wait with <see cref="OperationCanceledException"/>.</param>
    internal static bool Until<TState>(TState state, Func<TState, bool> attempt, Action<TState> throwIfPeerGone, ref int waitingFlag, int* futexWord,
        TimeSpan timeout, CancellationToken cancellation)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < s_spinTicks)
        {
            Thread.SpinWait(4);
            if (attempt(state))
            {
                return true;
            }
        }
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : start + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            // Announce, then re-check: pairs with the other end's full-fenced publication before it reads the flag.
            Interlocked.Exchange(ref waitingFlag, 1);
            try
            {
                int observed = Volatile.Read(ref *futexWord);
                if (attempt(state))
                {
                    return true;
                }
                throwIfPeerGone(state);
                long remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    return false;
                }
                Futex.Wait(futexWord, observed, TimeSpan.FromSeconds(Math.Min(remaining / (double)Stopwatch.Frequency, s_slice.TotalSeconds)));
            }
            finally
            {
                Volatile.Write(ref waitingFlag, 0);
            }
        }
    }
}
