using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int PTHREAD_PROCESS_SHARED = 1;
    internal const int PTHREAD_MUTEX_ROBUST = 1;
    internal const int PTHREAD_MUTEX_NORMAL = 0;
    internal const int PTHREAD_MUTEX_ERRORCHECK = 2;
    internal const int CLOCK_MONOTONIC = 1;

    /// <summary>Bytes reserved for a pthread_mutex_t in shared layouts: 40 on x86_64, 48 on arm64, rounded up.</summary>
    internal const int PThreadMutexReservedSize = 64;

    /// <summary>Bytes for a pthread_mutexattr_t: 4 on x86_64, 8 on arm64, rounded up.</summary>
    internal const int PThreadMutexAttrSize = 16;

    // The pthread functions return the error number; they do not set errno.
    [LibraryImport(Libc, EntryPoint = "pthread_mutexattr_init")]
    internal static unsafe partial int PThreadMutexAttrInit(void* attr);

    [LibraryImport(Libc, EntryPoint = "pthread_mutexattr_destroy")]
    internal static unsafe partial int PThreadMutexAttrDestroy(void* attr);

    [LibraryImport(Libc, EntryPoint = "pthread_mutexattr_setpshared")]
    internal static unsafe partial int PThreadMutexAttrSetPShared(void* attr, int shared);

    [LibraryImport(Libc, EntryPoint = "pthread_mutexattr_setrobust")]
    internal static unsafe partial int PThreadMutexAttrSetRobust(void* attr, int robust);

    [LibraryImport(Libc, EntryPoint = "pthread_mutexattr_settype")]
    internal static unsafe partial int PThreadMutexAttrSetType(void* attr, int type);

    [LibraryImport(Libc, EntryPoint = "pthread_mutex_init")]
    internal static unsafe partial int PThreadMutexInit(void* mutex, void* attr);

    [LibraryImport(Libc, EntryPoint = "pthread_mutex_lock")]
    internal static unsafe partial int PThreadMutexLock(void* mutex);

    // trylock and unlock never block (unlock at most issues one FUTEX_WAKE), so they may skip the GC transition:
    // that is most of an uncontended lock's cost. pthread_mutex_lock and clocklock block, so they keep it.
    [LibraryImport(Libc, EntryPoint = "pthread_mutex_trylock")]
    [SuppressGCTransition]
    internal static unsafe partial int PThreadMutexTryLock(void* mutex);

    /// <summary>Waits until an absolute CLOCK_MONOTONIC deadline, so a wall-clock change cannot stretch it.</summary>
    [LibraryImport(Libc, EntryPoint = "pthread_mutex_clocklock")]
    internal static unsafe partial int PThreadMutexClockLock(void* mutex, int clock, TimeSpec* deadline);

    [LibraryImport(Libc, EntryPoint = "pthread_mutex_unlock")]
    [SuppressGCTransition]
    internal static unsafe partial int PThreadMutexUnlock(void* mutex);

    [LibraryImport(Libc, EntryPoint = "pthread_mutex_consistent")]
    internal static unsafe partial int PThreadMutexConsistent(void* mutex);

    [LibraryImport(Libc, EntryPoint = "clock_gettime", SetLastError = true)]
    internal static unsafe partial int ClockGetTime(int clock, TimeSpec* now);
}
