using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Segments;

namespace Membrane.Sync;

/// <summary>
/// How a waiter waits for another process's publication (a journal reader for the writer, either end of a ring for
/// the other): try, spin about 20 µs, then park on the futex word the publisher changes. Parking announces itself
/// first (a count the publisher reads after each full-fenced publication) and tries once more before sleeping, so a
/// publication is never missed and the publisher makes a system call only when someone is parked.
/// </summary>
internal static class SpinThenPark
{
    /// <summary>Tries once; true when the wait is over.</summary>
    internal delegate bool Attempt<TState>(ref TState state)
        where TState : allows ref struct;

    /// <summary>Throws when the publisher can never make progress again (closed, died).</summary>
    internal delegate void PeerCheck<TState>(ref TState state)
        where TState : allows ref struct;

    /// <summary>Long enough to catch a publication on its way without a system call on either side, short enough not to burn a core.</summary>
    internal static readonly TimeSpan DefaultSpin = TimeSpan.FromMicroseconds(20);

    /// <summary>Attempts between two reads of the clock while spinning.</summary>
    private const int AttemptsPerClockRead = 16;

    /// <summary>How often a parked waiter looks at cancellation and at its peer.</summary>
    private static readonly TimeSpan s_slice = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How often an asynchronous wait parked on a reactor (which ends it at once on cancellation) looks at its peer:
    /// each look is a trip through the thread pool and a new park, and at 50 ms a thousand idle waits cost a quarter of a
    /// core (measured: 269 ms of CPU a second); at 1 s, about 15 ms. A peer that closes wakes its waiter at once; only one
    /// that dies without closing takes up to this long to be noticed.
    /// </summary>
    private static readonly TimeSpan s_asyncSlice = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a waiter woken with nothing to show spins before parking again. Such a wake is a heads-up: a ring
    /// producer wakes a parked consumer when it reserves a large message, so that the consumer's core is awake by the
    /// time the message is committed. A core that slept longer than about 0.1 ms takes 70 µs to wake on this
    /// machine's VM, 10 µs otherwise; copying 1 MiB in takes about 150 µs.
    /// </summary>
    internal static readonly TimeSpan SpinAfterHeadsUp = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The publisher's half: stores <paramref name="value"/> at <paramref name="position"/> with a full fence, then
    /// wakes the waiters parked on its low half, only if <paramref name="parkedCount"/> says there are any.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    internal static void Publish(ref long position, long value, ref int parkedCount, Parking parking, WaitTally tally)
    {
        // A release store: what precedes is visible before the position (pairs with the waiter's acquire of it). Then a
        // full fence: the position before the read of the count (pairs with the waiter's announce-then-recheck). Not one
        // locked exchange, which would do both: it cannot start taking the position's cache line before every store
        // ahead of it has its line, while a plain store takes its line alongside them (measured: 0.2 µs a round trip).
        Volatile.Write(ref position, value);
        Interlocked.MemoryBarrier();
        WakeIfParked(ref position, ref parkedCount, parking, tally);
    }

    /// <summary>
    /// The publisher's half where waiters park on a signal word that a publication does not change by itself (a queue's
    /// commit, a journal's append): a full fence after what was published (pairs with the waiter's count-in, then its
    /// last look), then, only if <paramref name="parkedCount"/> says someone is parked, a bump of the signal, so that a
    /// waiter between its last look and its sleep does not sleep through the publication, and the wake.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    internal static void Signal(ref long signal, ref int parkedCount, Parking parking, WaitTally tally)
    {
        Interlocked.MemoryBarrier();
        if (WaiterCount.Waiters(Volatile.Read(ref parkedCount)) != 0)
        {
            SignalParked(ref signal, parking, tally);
        }
    }

    [MethodImpl(HotPath.OutOfLine)]
    private static void SignalParked(ref long signal, Parking parking, WaitTally tally)
    {
        Interlocked.Increment(ref signal);
        Wake(ref signal, parking, tally);
    }

    /// <summary>Wakes the waiters parked on <paramref name="position"/>'s low half, if the count says there are any; true if it did.</summary>
    [MethodImpl(HotPath.Inline)]
    internal static bool WakeIfParked(ref long position, ref int parkedCount, Parking parking, WaitTally tally)
    {
        if (WaiterCount.Waiters(Volatile.Read(ref parkedCount)) == 0)
        {
            return false;
        }
        Wake(ref position, parking, tally);
        return true;
    }

    [MethodImpl(HotPath.OutOfLine)]
    private static unsafe void Wake(ref long position, Parking parking, WaitTally tally)
    {
        parking.Wake(LowHalf(ref position));
        tally.Woke();
    }

    /// <summary>Waits until <paramref name="attempt"/> succeeds; false when <paramref name="timeout"/> passes first.</summary>
    /// <param name="state">What the callbacks work on (a ref struct may carry the caller's span).</param>
    /// <param name="attempt">Tries once; true when done. Called once before any spinning.</param>
    /// <param name="checkPeer">Null, or throws when waiting is pointless; called between sleeps.</param>
    /// <param name="parkedCount">The waiters-parked count in shared memory that the publisher checks.</param>
    /// <param name="position">The position the publisher publishes; the waiter parks on its low half.</param>
    /// <param name="timeout">How long to wait at most (infinite allowed).</param>
    /// <param name="cancellation">Ends the wait with <see cref="OperationCanceledException"/>.</param>
    /// <param name="parking">How to sleep and be woken: futex, or the wake-up socket pair of an untrusted ring.</param>
    /// <param name="spin">How long to spin before parking; learns from how long the parks of this wait were.</param>
    /// <param name="tally">Where this side's parks are counted (<see cref="MembraneMetrics.Parks"/>, and the segment's own counter).</param>
    /// <param name="beforeParking">
    /// Null, or what must be done before this waiter may sleep (publishing what it holds back, which the other side
    /// may be waiting for); called after announcing the park and before the last re-check, so that the two sides'
    /// announce-then-look orders pair up and neither can sleep on the other.
    /// </param>
    [MethodImpl(HotPath.Optimised)]
    internal static unsafe bool Until<TState>(ref TState state, Attempt<TState> attempt, PeerCheck<TState>? checkPeer,
        ref int parkedCount, ref long position, Parking parking, TimeSpan timeout, AdaptiveSpin spin, WaitTally tally, CancellationToken cancellation,
        PeerCheck<TState>? beforeParking = null)
        where TState : allows ref struct
    {
        if (Spin(ref state, attempt, spin.Current, out long start))
        {
            return true;
        }
        long spunUntil = Stopwatch.GetTimestamp();
        // Sleep in slices only when something must be looked at between them; else until the deadline or a wake.
        var schedule = new ParkSchedule(start, timeout, checkPeer is not null || cancellation.CanBeCanceled ? s_slice : null);
        int* futexWord = LowHalf(ref position);
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            if (schedule.TakeEarlyWake())
            {
                // Woken: most often by progress. Else by a peer that closed (look at it), or by a heads-up (spin for what it announced).
                if (attempt(ref state))
                {
                    return Learned(spin, spunUntil);
                }
                checkPeer?.Invoke(ref state);
                if (Spin(ref state, attempt, schedule.PeerCheckedAfterWake(Stopwatch.GetTimestamp()), out _))
                {
                    return Learned(spin, spunUntil);
                }
            }
            // Announce, then re-check: pairs with the publisher's full-fenced publication before it reads the count.
            WaiterCount.CountIn(ref parkedCount);
            try
            {
                beforeParking?.Invoke(ref state);
                int observed = Volatile.Read(ref *futexWord);
                if (attempt(ref state))
                {
                    return Learned(spin, spunUntil);
                }
                long now = Stopwatch.GetTimestamp();
                if (checkPeer is not null && schedule.PeerCheckDue(now))
                {
                    checkPeer(ref state);
                }
                if (!schedule.TryNextSleep(now, out TimeSpan sleep))
                {
                    return false;
                }
                tally.Parked();
                parking.Park(futexWord, observed, sleep);
                schedule.Slept(now, sleep);
            }
            finally
            {
                WaiterCount.CountOut(ref parkedCount);
            }
        }
    }

    /// <summary>
    /// The asynchronous <see cref="Until"/>: the same protocol, but a park frees the thread (see
    /// <see cref="Parking.ParkAsync"/>). The shared words are passed as addresses: they live in
    /// <paramref name="mapping"/>, which never moves, and an async method cannot hold a ref. The callbacks are static
    /// and take <paramref name="state"/>, and the method's state machine is pooled, so a wait allocates nothing in steady state.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal static async ValueTask<bool> UntilAsync<TState>(TState state, Func<TState, bool> attempt, Action<TState>? checkPeer,
        nint parkedCount, nint position, MappingUsers mapping, Parking parking, TimeSpan timeout, AdaptiveSpin spin,
        WaitTally tally, CancellationToken cancellation, Action<TState>? beforeParking = null)
    {
        // The words stay mapped until this wait is over, even if another thread disposes the handle meanwhile (the wait
        // then ends with that handle's ObjectDisposedException, thrown by the attempt, within a slice).
        if (!mapping.TryAdd())
        {
            throw new ObjectDisposedException(typeof(TState).Name, "The handle this wait was made from was disposed, and the segment unmapped.");
        }
        try
        {
            var attempting = new AsyncAttempt<TState>(state, attempt);
            if (Spin(ref attempting, AsyncAttempt<TState>.Once, spin.Current, out long start))
            {
                return true;
            }
            long spunUntil = Stopwatch.GetTimestamp();
            TimeSpan? slice = !parking.CancelsAsyncParks && (checkPeer is not null || cancellation.CanBeCanceled) ? s_slice
                : checkPeer is not null ? s_asyncSlice
                : null;
            var schedule = new ParkSchedule(start, timeout, slice);
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                if (schedule.TakeEarlyWake())
                {
                    if (attempt(state))
                    {
                        return Learned(spin, spunUntil);
                    }
                    checkPeer?.Invoke(state);
                    if (Spin(ref attempting, AsyncAttempt<TState>.Once, schedule.PeerCheckedAfterWake(Stopwatch.GetTimestamp()), out _))
                    {
                        return Learned(spin, spunUntil);
                    }
                }
                int observed = Announce(parkedCount, position);
                try
                {
                    beforeParking?.Invoke(state);
                    if (attempt(state))
                    {
                        return Learned(spin, spunUntil);
                    }
                    long now = Stopwatch.GetTimestamp();
                    if (checkPeer is not null && schedule.PeerCheckDue(now))
                    {
                        checkPeer(state);
                    }
                    if (!schedule.TryNextSleep(now, out TimeSpan sleep))
                    {
                        return false;
                    }
                    tally.Parked();
                    await parking.ParkAsync(position, observed, sleep, mapping, cancellation).ConfigureAwait(false);
                    schedule.Slept(now, sleep);
                }
                finally
                {
                    Withdraw(parkedCount);
                }
            }
        }
        finally
        {
            mapping.Remove();
        }
    }

    /// <summary>An asynchronous wait's attempt in the shape <see cref="Spin"/> takes, without a closure.</summary>
    private readonly struct AsyncAttempt<TState>(TState state, Func<TState, bool> attempt)
    {
        internal static readonly Attempt<AsyncAttempt<TState>> Once = static (ref AsyncAttempt<TState> a) => a.Try(a._state);

        private readonly TState _state = state;

        internal Func<TState, bool> Try { get; } = attempt;
    }

    /// <summary>A wait that had to park ended in progress: the spin learns how long the park was (see <see cref="AdaptiveSpin"/>).</summary>
    private static bool Learned(AdaptiveSpin spin, long spunUntil)
    {
        spin.Learn(Stopwatch.GetTimestamp() - spunUntil);
        return true;
    }

    /// <summary>
    /// Tries once (no clock read if that succeeds), then keeps trying for <c>spin</c>, with one short pause
    /// per attempt. The clock is read once per round of attempts: read on every one, it would be most of the loop's
    /// period, and the period is how late a waiter that keeps pace notices the next message.
    /// </summary>
    /// <returns>True when an attempt succeeded; else false, with <paramref name="start"/> the moment the wait began (after the first attempt).</returns>
    [MethodImpl(HotPath.Optimised)]
    private static bool Spin<TState>(ref TState state, Attempt<TState> attempt, TimeSpan spin, out long start)
        where TState : allows ref struct
    {
        start = 0;
        if (attempt(ref state))
        {
            return true;
        }
        start = Stopwatch.GetTimestamp();
        long spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() - start < spinTicks)
        {
            for (int i = 0; i < AttemptsPerClockRead; i++)
            {
                Thread.SpinWait(1);
                if (attempt(ref state))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Counts this waiter as parked, then reads the futex word it will park on (in that order: see <see cref="Publish"/>).</summary>
    private static unsafe int Announce(nint parkedCount, nint position)
    {
        WaiterCount.CountIn(ref *(int*)parkedCount);
        return Volatile.Read(ref *(int*)position);
    }

    private static unsafe void Withdraw(nint parkedCount) => WaiterCount.CountOut(ref *(int*)parkedCount);

    /// <summary>
    /// How long each park of one wait may sleep, and when the waiter looks at its peer. Looking can cost system calls
    /// and a /proc read, too much for every park of a busy ping-pong, so it is done once a slice has passed without a
    /// check, and after a park that ended early without progress (a peer that closes wakes its waiter first). A dead
    /// peer is thus noticed within a slice.
    /// </summary>
    /// <remarks>A park that ended early without progress is also a heads-up to spin for a while (<see cref="SpinAfterHeadsUp"/>).</remarks>
    /// <param name="start">When the wait began.</param>
    /// <param name="timeout">How long it may last.</param>
    /// <param name="slice">How long one park may sleep before the waiter looks at its peer and its cancellation; null: no slices.</param>
    private struct ParkSchedule(long start, TimeSpan timeout, TimeSpan? slice)
    {
        private static readonly long s_headsUpTicks = (long)(SpinAfterHeadsUp.TotalSeconds * Stopwatch.Frequency);
        private readonly long _deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : start + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        private readonly double _sliceSeconds = slice?.TotalSeconds ?? 3600;
        private readonly long _sliceTicks = (long)((slice ?? s_slice).TotalSeconds * Stopwatch.Frequency);
        private long _lastPeerCheck = start;
        private bool _wokenEarly;

        /// <summary>
        /// Whether the last park ended before its time. If so, and the wake brought nothing, the caller looks at its peer
        /// at once, then spins for what <see cref="PeerCheckedAfterWake"/> says.
        /// </summary>
        internal bool TakeEarlyWake()
        {
            bool early = _wokenEarly;
            _wokenEarly = false;
            return early;
        }

        internal bool PeerCheckDue(long now)
        {
            if (now - _lastPeerCheck < _sliceTicks)
            {
                return false;
            }
            _lastPeerCheck = now;
            return true;
        }

        /// <summary>
        /// Counts the look at the peer just made after an early wake as this slice's check, and says how long to spin
        /// now: <see cref="SpinAfterHeadsUp"/>, or what is left before the deadline if that is less.
        /// </summary>
        internal TimeSpan PeerCheckedAfterWake(long now)
        {
            _lastPeerCheck = now;
            long remaining = _deadline - now;
            return remaining < s_headsUpTicks ? TimeSpan.FromSeconds(Math.Max(0, remaining) / (double)Stopwatch.Frequency) : SpinAfterHeadsUp;
        }

        /// <summary>The next sleep: a slice, or what is left before the deadline; false once the deadline has passed.</summary>
        internal readonly bool TryNextSleep(long now, out TimeSpan sleep)
        {
            long remaining = _deadline - now;
            sleep = remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(remaining / (double)Stopwatch.Frequency, _sliceSeconds));
            return remaining > 0;
        }

        internal void Slept(long parkedAt, TimeSpan sleep) => _wokenEarly = Stopwatch.GetElapsedTime(parkedAt) < sleep;
    }

    /// <summary>
    /// The futex word of a 64-bit position: its low half (little-endian), which changes with every publication. Positions
    /// live in mapped shared memory, which the GC never moves, so the pointer stays valid.
    /// </summary>
    private static unsafe int* LowHalf(ref long position) => (int*)Unsafe.AsPointer(ref position);
}
