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
}
