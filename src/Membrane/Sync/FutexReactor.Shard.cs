using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Membrane.Native;

namespace Membrane.Sync;

internal sealed unsafe partial class FutexReactor
{
    /// <summary>
    /// One reactor thread and the parks placed on it (at most <see cref="WordsPerThread"/>). Parks arrive through a
    /// queue; the thread reads its control word before taking them, so a park queued after that read has changed the
    /// word and makes the next <c>futex_waitv</c> return at once.
    /// </summary>
    private sealed class Shard
    {
        private readonly int* _control = (int*)NativeMemory.AllocZeroed(sizeof(int)); // never freed: the thread lives as long as the process
        private readonly ConcurrentQueue<Park> _arriving = new();
        // Parks placed here and not yet completed (plus Busy while running a continuation); raised under the reactor's gate,
        // lowered by whoever completes a park. Not by the drop of a completed park: a waiter that parks again at once (after
        // a peer-check slice, say) must find its place free, not spill onto a new thread.
        private int _reserved;

        /// <summary>Added to the reserved count while the thread runs a continuation, so that no park is placed here meanwhile.</summary>
        private const int Busy = 1 << 16;

        internal Shard(int number) =>
            new Thread(Run) { IsBackground = true, Name = $"Membrane futex reactor {number}" }.Start();

        /// <summary>Takes a place for one more park, if there is room and the thread is not running a continuation (called under the reactor's gate).</summary>
        internal bool TryReserve()
        {
            while (true)
            {
                int reserved = Volatile.Read(ref _reserved);
                if (reserved >= WordsPerThread)
                {
                    return false;
                }
                if (Interlocked.CompareExchange(ref _reserved, reserved + 1, reserved) == reserved)
                {
                    return true;
                }
            }
        }

        /// <summary>A park placed here was completed: its place is free.</summary>
        internal void Release() => Interlocked.Decrement(ref _reserved);

        /// <summary>
        /// On this shard's thread, for a park just completed (and released): if no other park is pending in the process
        /// (so none is placed here either), completes it here, running its continuation (up to the waiter's next wait
        /// that does not complete at once) on this thread; meanwhile the shard takes no new park, so no wake waits behind
        /// the continuation. False, doing nothing, otherwise: with other parks about, a continuation that parks again
        /// could find no room beside them but on a new thread.
        /// </summary>
        internal bool TryRunAlone(Park park, FutexReactor reactor)
        {
            if (!reactor.NothingPending || Interlocked.CompareExchange(ref _reserved, Busy, 0) != 0)
            {
                return false;
            }
            try
            {
                ((IThreadPoolWorkItem)park).Execute();
            }
            finally
            {
                Interlocked.Add(ref _reserved, -Busy);
            }
            return true;
        }

        internal void Add(Park park)
        {
            _arriving.Enqueue(park);
            Signal();
        }

        /// <summary>Makes the thread look at its parks again (a new one, or one cancelled).</summary>
        internal void Signal()
        {
            Interlocked.Increment(ref *_control);
            Interop.FutexWake(_control, 1);
        }

        private void Run()
        {
            var parks = new List<Park>(WordsPerThread);
            var vector = (Interop.FutexWaitVector*)NativeMemory.AlignedAlloc((nuint)(sizeof(Interop.FutexWaitVector) * Interop.FUTEX_WAITV_MAX), 64);
            while (true)
            {
                int control = Volatile.Read(ref *_control);
                while (_arriving.TryDequeue(out Park? park))
                {
                    parks.Add(park);
                }
                long nearest = Settle(parks);
                int count = 0;
                vector[count++] = Entry(_control, control);
                foreach (Park park in parks)
                {
                    vector[count++] = Entry(park.Word, park.Observed);
                }
                int woken = nearest == long.MaxValue ? Interop.FutexWaitv(vector, count, null) : WaitUntil(vector, count, nearest);
                if (woken > 0)
                {
                    // Woken with its value unchanged (a heads-up, a close): its caller looks again.
                    Park park = parks[woken - 1];
                    Drop(parks, woken - 1);
                    park.CompleteAndLetGo();
                }
                // Else the control word, a word that changed before the call (EAGAIN), a deadline or a signal: Settle sorts it out.
            }
        }

        /// <summary>
        /// Completes the parks whose word changed or whose deadline passed, drops them and those a cancellation completed
        /// (letting each go before its continuation runs), and returns the nearest deadline of those left.
        /// </summary>
        private long Settle(List<Park> parks)
        {
            long now = Stopwatch.GetTimestamp();
            long nearest = long.MaxValue;
            for (int i = parks.Count - 1; i >= 0; i--)
            {
                Park park = parks[i];
                // The word is read only while the park is ours (its mapping stays until we let it go), and not at all once
                // a cancellation completed the park.
                if (park.IsCompleted || Volatile.Read(ref *park.Word) != park.Observed || now >= park.Deadline)
                {
                    Drop(parks, i);
                    park.CompleteAndLetGo();
                    continue;
                }
                nearest = Math.Min(nearest, park.Deadline);
            }
            return nearest;
        }

        /// <summary>Takes the park at <paramref name="index"/> off the list (the last one takes its place).</summary>
        private static void Drop(List<Park> parks, int index)
        {
            parks[index] = parks[^1];
            parks.RemoveAt(parks.Count - 1);
        }

        private static Interop.FutexWaitVector Entry(int* word, int value) =>
            new() { Value = (uint)value, Address = (ulong)word, Flags = Interop.FUTEX2_SIZE_U32 };

        /// <summary>futex_waitv until a <see cref="Stopwatch"/> timestamp, turned into the absolute monotonic time it takes.</summary>
        private static int WaitUntil(Interop.FutexWaitVector* vector, int count, long deadline)
        {
            Interop.TimeSpec now;
            Interop.ClockGetTime(Interop.CLOCK_MONOTONIC, &now);
            long remaining = Math.Max(0, deadline - Stopwatch.GetTimestamp());
            long nanoseconds = (long)Math.Min(remaining * (1e9 / Stopwatch.Frequency), 3600e9) + now.Nanoseconds;
            Interop.TimeSpec until = new() { Seconds = now.Seconds + (nanoseconds / 1_000_000_000), Nanoseconds = nanoseconds % 1_000_000_000 };
            return Interop.FutexWaitv(vector, count, &until);
        }
    }
}
