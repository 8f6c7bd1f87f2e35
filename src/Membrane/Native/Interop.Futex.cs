using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    // Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
    internal const int FUTEX_WAIT = 0;
    internal const int FUTEX_WAKE = 1;

    internal struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>SYS_futex differs by architecture; resolved once.</summary>
    private static readonly nint s_sysFutex = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        var other => throw new PlatformNotSupportedException($"Membrane has no futex syscall number for {other}."),
    };

    // syscall(2) is variadic; every argument is register-sized here, which the x86_64 and arm64 ABIs pass the same
    // way for variadic and fixed parameters.
    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial nint Syscall(nint number, void* address, nint operation, nint value, TimeSpec* timeout, nint address2, nint value3);

    /// <summary>Parks while <c>*word == expected</c>, at most <paramref name="timeout"/> (relative; null = forever).</summary>
    internal static unsafe int FutexWait(int* word, int expected, TimeSpec* timeout) =>
        (int)Syscall(s_sysFutex, word, FUTEX_WAIT, expected, timeout, 0, 0);

    /// <summary>Wakes up to <paramref name="count"/> waiters parked on <paramref name="word"/>; returns how many woke.</summary>
    internal static unsafe int FutexWake(int* word, int count) =>
        (int)Syscall(s_sysFutex, word, FUTEX_WAKE, count, null, 0, 0);

    /// <summary>FUTEX2_SIZE_U32: a 32-bit futex word (futex_waitv has no other size yet).</summary>
    internal const uint FUTEX2_SIZE_U32 = 0x02;

    /// <summary>FUTEX2_PRIVATE: a word only this process uses (a reactor's own control word).</summary>
    internal const uint FUTEX2_PRIVATE = 128;

    /// <summary>FUTEX_WAITV_MAX: the most words one futex_waitv call waits on.</summary>
    internal const int FUTEX_WAITV_MAX = 128;

    /// <summary>SYS_futex_waitv: the same number on every architecture (Linux 5.16).</summary>
    private const nint SysFutexWaitv = 449;

    /// <summary><c>struct futex_waitv</c> (24 bytes).</summary>
    internal struct FutexWaitVector
    {
        public ulong Value;
        public ulong Address;
        public uint Flags;
        public uint Reserved;
    }

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial nint SyscallWaitv(nint number, FutexWaitVector* waiters, nint count, nint flags, TimeSpec* timeout, nint clock);

    /// <summary>
    /// Parks until one of the <paramref name="count"/> words is woken, at most until <paramref name="deadline"/> (absolute,
    /// <see cref="CLOCK_MONOTONIC"/>; null = forever). Returns the index of a woken word; -1 with errno EAGAIN if a word
    /// no longer held its value, ETIMEDOUT, EINTR, or ENOSYS on a kernel older than 5.16.
    /// </summary>
    internal static unsafe int FutexWaitv(FutexWaitVector* waiters, int count, TimeSpec* deadline) =>
        (int)SyscallWaitv(SysFutexWaitv, waiters, count, 0, deadline, CLOCK_MONOTONIC);
}
