using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Sync;

/// <summary>
/// A process-shared, robust, error-checking pthread mutex living in shared memory. Robust: when its holder dies
/// (process or thread), the kernel's robust-futex list hands it to the next locker with EOWNERDEAD instead of leaving
/// everyone blocked; this type marks it consistent and reports <see cref="LockOutcome.AcquiredOwnerDied"/>.
/// Error-checking: a thread that locks it twice gets an exception, not a deadlock. A pthread mutex must be unlocked
/// by the thread that locked it; callers keep lock and unlock on one thread (guards are ref structs).
/// </summary>
internal readonly unsafe struct RobustMutex
{
    /// <summary>
    /// Where glibc's pthread_mutex_t (64-bit ABIs) keeps its type: the attributes it was initialised with. Any process
    /// that can write the segment can change it, and glibc trusts it: a "priority protect" type with a garbage ceiling
    /// trips an assertion that aborts the process. So the word is checked against a mutex initialised here with the
    /// same attributes before every call that hands the mutex to glibc.
    /// </summary>
    private const int KindOffset = 16;

    /// <summary>
    /// The lock word, at offset 0 in every glibc ABI: a robust mutex is a robust futex, whose word holds the thread id
    /// (kernel TID) of its owner in these bits, by the kernel's ABI.
    /// </summary>
    private const int FutexTidMask = 0x3fffffff;

    /// <summary>The type word of a mutex initialised with our attributes, as this glibc writes it.</summary>
    private static readonly int s_expectedKind = ExpectedKind();

    private readonly void* _mutex;
    private readonly string _segmentName;

    internal RobustMutex(void* mutex, string segmentName)
    {
        _mutex = mutex;
        _segmentName = segmentName;
    }

    /// <summary>Initialises the mutex in place; only the segment's creator, during initialisation.</summary>
    internal void Initialise() => Check(InitialiseAt(_mutex), "pthread_mutex_init");

    /// <summary>
    /// Throws <see cref="SegmentCorruptException"/> unless the mutex's type word is the one our attributes give: a
    /// damaged one must never reach glibc (see <see cref="KindOffset"/>).
    /// </summary>
    internal void Validate()
    {
        int kind = Volatile.Read(ref *(int*)((byte*)_mutex + KindOffset));
        if (kind != s_expectedKind)
        {
            ThrowDamaged(kind);
        }
    }

    /// <summary>
    /// Blocks until held. The uncontended case is one trylock, which skips the GC transition, inline; anything else
    /// (a held lock, a dead owner, an error) goes to <see cref="LockSlow"/>, so that no caller's frame carries the
    /// P/Invoke frame a blocking call needs (setting it up costs an uncontended lock+unlock a third again).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal LockOutcome Lock()
    {
        Validate();
        int error = Interop.PThreadMutexTryLock(_mutex);
        return error == 0 ? LockOutcome.Acquired : LockSlow(error);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private LockOutcome LockSlow(int tryLockError)
    {
        LockOutcome outcome = Outcome(tryLockError, "pthread_mutex_trylock");
        return outcome != LockOutcome.TimedOut ? outcome : Outcome(Interop.PThreadMutexLock(_mutex), "pthread_mutex_lock");
    }

    /// <summary>
    /// Takes the lock within <paramref name="timeout"/> (zero: one try; infinite: <see cref="Lock"/>), waking every
    /// 50 ms to honour <paramref name="cancellation"/>.
    /// </summary>
    internal LockOutcome TryLock(TimeSpan timeout, CancellationToken cancellation)
    {
        Validate();
        if (timeout == TimeSpan.Zero)
        {
            return Outcome(Interop.PThreadMutexTryLock(_mutex), "pthread_mutex_trylock");
        }
        if (timeout == Timeout.InfiniteTimeSpan && !cancellation.CanBeCanceled)
        {
            return Lock();
        }
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            long remainingTicks = deadline - Stopwatch.GetTimestamp();
            if (remainingTicks <= 0)
            {
                return LockOutcome.TimedOut;
            }
            TimeSpan slice = TimeSpan.FromSeconds(Math.Min(remainingTicks / (double)Stopwatch.Frequency, cancellation.CanBeCanceled ? 0.05 : double.MaxValue));
            LockOutcome outcome = Outcome(ClockLock(slice), "pthread_mutex_clocklock");
            if (outcome != LockOutcome.TimedOut)
            {
                return outcome;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Unlock()
    {
        int error = Interop.PThreadMutexUnlock(_mutex);
        if (error != 0)
        {
            NativeError.Throw("pthread_mutex_unlock", error, _segmentName);
        }
    }

    /// <summary>
    /// Whether the calling thread holds the mutex, from the owner in the lock word. For slow paths only (a system call):
    /// it turns a wait that would wait for itself into an error.
    /// </summary>
    internal bool IsHeldByThisThread() => (Volatile.Read(ref *(int*)_mutex) & FutexTidMask) == Interop.GetTid();

    /// <summary>pthread_mutex_init with our attributes (process-shared, robust, error-checking); 0 or the error.</summary>
    private static int InitialiseAt(void* mutex)
    {
        byte* attr = stackalloc byte[Interop.PThreadMutexAttrSize];
        int error = Interop.PThreadMutexAttrInit(attr);
        if (error != 0)
        {
            return error;
        }
        try
        {
            return Interop.PThreadMutexAttrSetPShared(attr, Interop.PTHREAD_PROCESS_SHARED) is var shared and not 0 ? shared
                : Interop.PThreadMutexAttrSetRobust(attr, Interop.PTHREAD_MUTEX_ROBUST) is var robust and not 0 ? robust
                : Interop.PThreadMutexAttrSetType(attr, Interop.PTHREAD_MUTEX_ERRORCHECK) is var type and not 0 ? type
                : Interop.PThreadMutexInit(mutex, attr);
        }
        finally
        {
            _ = Interop.PThreadMutexAttrDestroy(attr);
        }
    }

    private static int ExpectedKind()
    {
        byte* probe = stackalloc byte[Interop.PThreadMutexReservedSize];
        new Span<byte>(probe, Interop.PThreadMutexReservedSize).Clear();
        int error = InitialiseAt(probe);
        return error == 0 ? *(int*)(probe + KindOffset) : throw new NativeCallException("pthread_mutex_init failed for a probe mutex.", errno: error);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDamaged(int kind) =>
        throw new SegmentCorruptException("Its lock is damaged: the mutex's type is not the one Membrane creates.", _segmentName,
            expected: $"type word 0x{s_expectedKind:x} (process-shared, robust, error-checking)", found: $"type word 0x{kind:x}");

    private int ClockLock(TimeSpan relative)
    {
        // One slice is at most an hour (TryLock loops), so the nanosecond sum below cannot overflow.
        long addNanoseconds = Math.Min(relative.Ticks, TimeSpan.TicksPerHour) * 100;
        Interop.TimeSpec deadline;
        Interop.ClockGetTime(Interop.CLOCK_MONOTONIC, &deadline);
        long nanoseconds = deadline.Nanoseconds + addNanoseconds;
        deadline.Seconds += nanoseconds / 1_000_000_000;
        deadline.Nanoseconds = nanoseconds % 1_000_000_000;
        return Interop.PThreadMutexClockLock(_mutex, Interop.CLOCK_MONOTONIC, &deadline);
    }

    private LockOutcome Outcome(int error, string call)
    {
        switch (error)
        {
            case 0:
                return LockOutcome.Acquired;
            case Interop.EOWNERDEAD:
                // We hold it now; make it usable again, then tell the caller its state may be half-written.
                Check(Interop.PThreadMutexConsistent(_mutex), "pthread_mutex_consistent");
                return LockOutcome.AcquiredOwnerDied;
            case Interop.EBUSY or Interop.ETIMEDOUT:
                return LockOutcome.TimedOut;
            case Interop.EDEADLK:
                throw new InvalidOperationException($"Segment '{_segmentName}': this thread already holds the lock; locking it again would deadlock.");
            case Interop.ENOTRECOVERABLE:
                throw new SegmentCorruptException("Its lock is unrecoverable: a holder died and the lock was released without being made consistent.",
                    _segmentName, errno: error);
            default:
                Check(error, call);
                return LockOutcome.TimedOut;
        }
    }

    private void Check(int error, string call)
    {
        if (error != 0)
        {
            NativeError.Throw(call, error, _segmentName);
        }
    }
}
