using System.Runtime.CompilerServices;
using Membrane.Native;

namespace Membrane.Sync;

/// <summary>
/// Parking on a 32-bit word in shared memory (futex, not FUTEX_PRIVATE: the waker is another process). Callers spin
/// first and park only after announcing themselves, so that a waker issues FUTEX_WAKE only when someone is parked.
/// </summary>
internal static unsafe class Futex
{
    /// <summary>
    /// Parks while <c>*word == expected</c>, at most <paramref name="timeout"/>. Returns on a wake, a change of the
    /// word, a signal or the timeout; callers re-check their condition in every case.
    /// </summary>
    internal static void Wait(int* word, int expected, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            Interop.FutexWait(word, expected, null);
            return;
        }
        long nanoseconds = Math.Max(0, Math.Min(timeout.Ticks, TimeSpan.TicksPerHour)) * 100;
        Interop.TimeSpec relative = new() { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        Interop.FutexWait(word, expected, &relative);
    }

    /// <summary>Wakes every process parked on <paramref name="word"/>.</summary>
    internal static void WakeAll(int* word) => Interop.FutexWake(word, int.MaxValue);

    /// <summary><see cref="Wait(int*, int, TimeSpan)"/> on a word of a mapped segment (mapped memory never moves).</summary>
    internal static void Wait(ref int word, int expected, TimeSpan timeout) => Wait((int*)Unsafe.AsPointer(ref word), expected, timeout);

    /// <summary><see cref="WakeAll(int*)"/> on a word of a mapped segment (mapped memory never moves).</summary>
    internal static void WakeAll(ref int word) => WakeAll((int*)Unsafe.AsPointer(ref word));
}
