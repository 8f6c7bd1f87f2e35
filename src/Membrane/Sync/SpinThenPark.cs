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
        // Sleep in slices only when something must be looked at between them; else until the deadline or a wake.
        var wait = new ParkingWait(spin, start, timeout, checkPeer is not null || cancellation.CanBeCanceled ? s_slice : null);
        int* futexWord = LowHalf(ref position);
        while (true)
        {
            if (wait.Resume(ref state, attempt, checkPeer, cancellation))
            {
                return wait.Learned();
            }
            // Announce, then read the word to park on (in that order: see Publish).
            WaiterCount.CountIn(ref parkedCount);
            int observed = Volatile.Read(ref *futexWord);
            try
            {
                switch (wait.LastLook(ref state, attempt, checkPeer, beforeParking, out TimeSpan sleep))
                {
                    case LastLookOutcome.Progress:
                        return wait.Learned();
                    case LastLookOutcome.TimedOut:
                        return false;
                }
                tally.Parked();
                parking.Park(futexWord, observed, sleep);
                wait.Slept(sleep);
            }
            finally
            {
                WaiterCount.CountOut(ref parkedCount);
            }
        }
    }

    /// <summary>
    /// The asynchronous <see cref="Until"/>: the same protocol (<see cref="ParkingWait"/>), but a park frees the thread (see
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
            var callbacks = new AsyncCallbacks<TState>(state, attempt, checkPeer, beforeParking);
            if (Spin(ref callbacks, AsyncCallbacks<TState>.Try, spin.Current, out long start))
            {
                return true;
            }
            // A reactor that ends a park at once on cancellation needs slices only to look at the peer, and those can be long.
            TimeSpan? slice = !parking.CancelsAsyncParks && (checkPeer is not null || cancellation.CanBeCanceled) ? s_slice
                : checkPeer is not null ? s_asyncSlice
                : null;
            var wait = new ParkingWait(spin, start, timeout, slice);
            while (true)
            {
                if (wait.Resume(ref callbacks, AsyncCallbacks<TState>.Try, callbacks.PeerCheck, cancellation))
                {
                    return wait.Learned();
                }
                int observed = Announce(parkedCount, position);
                try
                {
                    switch (wait.LastLook(ref callbacks, AsyncCallbacks<TState>.Try, callbacks.PeerCheck, callbacks.BeforeParking, out TimeSpan sleep))
                    {
                        case LastLookOutcome.Progress:
                            return wait.Learned();
                        case LastLookOutcome.TimedOut:
                            return false;
                    }
                    tally.Parked();
                    await parking.ParkAsync(position, observed, sleep, mapping, cancellation).ConfigureAwait(false);
                    wait.Slept(sleep);
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

    /// <summary>An asynchronous wait's callbacks in the shapes <see cref="ParkingWait"/> and <see cref="Spin"/> take, without a closure.</summary>
    private readonly struct AsyncCallbacks<TState>(TState state, Func<TState, bool> attempt, Action<TState>? checkPeer, Action<TState>? beforeParking)
    {
        internal static readonly Attempt<AsyncCallbacks<TState>> Try = static (ref AsyncCallbacks<TState> c) => c._attempt(c._state);

        private static readonly PeerCheck<AsyncCallbacks<TState>> s_checkPeer = static (ref AsyncCallbacks<TState> c) => c._checkPeer!(c._state);
        private static readonly PeerCheck<AsyncCallbacks<TState>> s_beforeParking = static (ref AsyncCallbacks<TState> c) => c._beforeParking!(c._state);

        private readonly TState _state = state;
        private readonly Func<TState, bool> _attempt = attempt;
        private readonly Action<TState>? _checkPeer = checkPeer;
        private readonly Action<TState>? _beforeParking = beforeParking;

        /// <summary>Null when the wait has no peer to look at.</summary>
        internal PeerCheck<AsyncCallbacks<TState>>? PeerCheck => _checkPeer is null ? null : s_checkPeer;

        /// <summary>Null when nothing must be done before parking.</summary>
        internal PeerCheck<AsyncCallbacks<TState>>? BeforeParking => _beforeParking is null ? null : s_beforeParking;
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

    /// <summary>What the last look before a park found.</summary>
    private enum LastLookOutcome
    {
        /// <summary>The attempt succeeded: the wait is over.</summary>
        Progress,

        /// <summary>The deadline passed.</summary>
        TimedOut,

        /// <summary>Nothing yet: park.</summary>
        Park,
    }

    /// <summary>
    /// One wait after its first spin, the protocol between two parks written once for the thread that sleeps
    /// (<see cref="Until"/>) and for the await (<see cref="UntilAsync"/>): each round <see cref="Resume"/>s, announces the
    /// park (the caller counts itself in and reads the futex word), takes its <see cref="LastLook"/>, parks and says it
    /// <see cref="Slept"/>. How long each park may sleep, and when the waiter looks at its peer: looking can cost system
    /// calls and a /proc read, too much for every park of a busy ping-pong, so it is done once a slice has passed
    /// without a check, and after a park that ended early without progress (a peer that closes wakes its waiter first).
    /// A dead peer is thus noticed within a slice.
    /// </summary>
    /// <remarks>A park that ended early without progress is also a heads-up to spin for a while (<see cref="SpinAfterHeadsUp"/>).</remarks>
    private struct ParkingWait
    {
        private static readonly long s_headsUpTicks = (long)(SpinAfterHeadsUp.TotalSeconds * Stopwatch.Frequency);
        private readonly AdaptiveSpin _spin;
        private readonly long _spunUntil;
        private readonly long _deadline;
        private readonly double _sliceSeconds;
        private readonly long _sliceTicks;
        private long _lastPeerCheck;
        private long _lookedAt;
        private bool _wokenEarly;

        /// <param name="spin">Learns how long this wait's parks were, once it ends in progress.</param>
        /// <param name="start">When the wait began.</param>
        /// <param name="timeout">How long it may last.</param>
        /// <param name="slice">How long one park may sleep before the waiter looks at its peer and its cancellation; null: no slices.</param>
        internal ParkingWait(AdaptiveSpin spin, long start, TimeSpan timeout, TimeSpan? slice)
        {
            _spin = spin;
            _spunUntil = Stopwatch.GetTimestamp();
            _deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : start + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            _sliceSeconds = slice?.TotalSeconds ?? 3600;
            _sliceTicks = (long)((slice ?? s_slice).TotalSeconds * Stopwatch.Frequency);
            _lastPeerCheck = start;
        }

        /// <summary>
        /// The start of a round: throws on cancellation; after a park that ended early, tries, looks at the peer at once
        /// (woken most often by progress, else by a peer that closed, or by a heads-up), then spins for what a heads-up
        /// announced. True: the wait is over.
        /// </summary>
        internal bool Resume<TState>(ref TState state, Attempt<TState> attempt, PeerCheck<TState>? checkPeer, CancellationToken cancellation)
            where TState : allows ref struct
        {
            cancellation.ThrowIfCancellationRequested();
            if (!_wokenEarly)
            {
                return false;
            }
            _wokenEarly = false;
            if (attempt(ref state))
            {
                return true;
            }
            checkPeer?.Invoke(ref state);
            long now = Stopwatch.GetTimestamp();
            _lastPeerCheck = now;
            long remaining = _deadline - now;
            TimeSpan headsUp = remaining < s_headsUpTicks ? TimeSpan.FromSeconds(Math.Max(0, remaining) / (double)Stopwatch.Frequency) : SpinAfterHeadsUp;
            return Spin(ref state, attempt, headsUp, out _);
        }

        /// <summary>
        /// With the park announced: does what must be done before sleeping, tries a last time (pairs with the publisher's
        /// full-fenced publication before it reads the count), looks at the peer if a slice has passed, and gives the
        /// next sleep: a slice, or what is left before the deadline.
        /// </summary>
        internal LastLookOutcome LastLook<TState>(ref TState state, Attempt<TState> attempt, PeerCheck<TState>? checkPeer, PeerCheck<TState>? beforeParking,
            out TimeSpan sleep)
            where TState : allows ref struct
        {
            sleep = TimeSpan.Zero;
            beforeParking?.Invoke(ref state);
            if (attempt(ref state))
            {
                return LastLookOutcome.Progress;
            }
            long now = Stopwatch.GetTimestamp();
            if (checkPeer is not null && now - _lastPeerCheck >= _sliceTicks)
            {
                _lastPeerCheck = now;
                checkPeer(ref state);
            }
            long remaining = _deadline - now;
            if (remaining <= 0)
            {
                return LastLookOutcome.TimedOut;
            }
            _lookedAt = now;
            sleep = TimeSpan.FromSeconds(Math.Min(remaining / (double)Stopwatch.Frequency, _sliceSeconds));
            return LastLookOutcome.Park;
        }

        /// <summary>The park of <paramref name="sleep"/> is over; ended early, it makes the next round look first.</summary>
        internal void Slept(TimeSpan sleep) => _wokenEarly = Stopwatch.GetElapsedTime(_lookedAt) < sleep;

        /// <summary>The wait ended in progress: the spin learns how long the parks were (see <see cref="AdaptiveSpin"/>).</summary>
        internal readonly bool Learned()
        {
            _spin.Learn(Stopwatch.GetTimestamp() - _spunUntil);
            return true;
        }
    }

    /// <summary>
    /// The futex word of a 64-bit position: its low half (little-endian), which changes with every publication. Positions
    /// live in mapped shared memory, which the GC never moves, so the pointer stays valid.
    /// </summary>
    private static unsafe int* LowHalf(ref long position) => (int*)Unsafe.AsPointer(ref position);
}
