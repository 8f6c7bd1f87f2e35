using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Sync;

/// <summary>
/// A process-shared, robust pthread mutex living in shared memory. Robust: when its holder dies (process or thread),
/// the kernel's robust-futex list hands it to the next locker with EOWNERDEAD instead of leaving everyone blocked; this
/// type marks it consistent and reports <see cref="LockOutcome.AcquiredOwnerDied"/>. A pthread mutex must be unlocked
/// by the thread that locked it; callers keep lock and unlock on one thread (guards are ref structs).
/// <para>
/// A thread that would wait for a lock it holds itself gets an exception, not a deadlock. glibc's error-checking type
/// cannot tell that: it compares the owner's thread id in the lock word with the caller's, and thread ids are numbered
/// per PID namespace, so two processes in two containers sharing /dev/shm can have threads of the same id, and the
/// second locker was refused as if it held the lock already (a real failure: two pid-1 processes each locking from
/// their main thread, thread id 1 in both). So the mutex is of the normal type, and before a locker waits, this type
/// checks that the lock is not its own: the lock word names this thread, and the caller's record of the holder names
/// this process (<c>heldByThisProcess</c>), which no process of another namespace matches.
/// </para>
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
    private static readonly int s_expectedKind = ExpectedKind(Interop.PTHREAD_MUTEX_NORMAL);

    /// <summary>The type word of a mutex made by Membrane 0.9 and earlier, error-checking; still accepted.</summary>
    private static readonly int s_errorCheckingKind = ExpectedKind(Interop.PTHREAD_MUTEX_ERRORCHECK);

    private readonly void* _mutex;
    private readonly string _segmentName;
    private readonly Func<bool>? _heldByThisProcess;

    /// <param name="mutex">The mutex in shared memory.</param>
    /// <param name="segmentName">Named in errors.</param>
    /// <param name="heldByThisProcess">
    /// Whether the caller's own record says this process holds the lock; null where every locker is in this PID
    /// namespace (the lock word's thread id alone then decides).
    /// </param>
    internal RobustMutex(void* mutex, string segmentName, Func<bool>? heldByThisProcess = null)
    {
        _mutex = mutex;
        _segmentName = segmentName;
        _heldByThisProcess = heldByThisProcess;
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
        if (kind != s_expectedKind && kind != s_errorCheckingKind)
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
    private LockOutcome LockSlow(int tryLockError) => AfterTryLock(tryLockError, Timeout.InfiniteTimeSpan, CancellationToken.None);

    /// <summary>
    /// Takes the lock within <paramref name="timeout"/> (zero: one try; infinite: <see cref="Lock"/>), waking every
    /// 50 ms to honour <paramref name="cancellation"/>.
    /// </summary>
    internal LockOutcome TryLock(TimeSpan timeout, CancellationToken cancellation)
    {
        Validate();
        return AfterTryLock(Interop.PThreadMutexTryLock(_mutex), timeout, cancellation);
    }

    /// <summary>
    /// What a first trylock's <paramref name="tryLockError"/> means, and the wait after it when another holds the lock:
    /// first the check that it is not this thread, which would wait for ever.
    /// </summary>
    private LockOutcome AfterTryLock(int tryLockError, TimeSpan timeout, CancellationToken cancellation)
    {
        LockOutcome first = Outcome(tryLockError, "pthread_mutex_trylock");
        if (first != LockOutcome.TimedOut)
        {
            return first;
        }
        ThrowIfHeldByThisThread();
        if (timeout == TimeSpan.Zero)
        {
            return LockOutcome.TimedOut;
        }
        if (timeout == Timeout.InfiniteTimeSpan && !cancellation.CanBeCanceled)
        {
            return Outcome(Interop.PThreadMutexLock(_mutex), "pthread_mutex_lock");
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
    /// Whether the lock word names the calling thread as its owner. For slow paths only (a system call): it turns a wait
    /// that would wait for itself into an error. A thread id is only unique within its PID namespace: a caller that may
    /// share the mutex across namespaces checks which process holds it too.
    /// </summary>
    internal bool IsHeldByThisThread() =>
        (_heldByThisProcess?.Invoke() ?? true) && (Volatile.Read(ref *(int*)_mutex) & FutexTidMask) == Interop.GetTid();

    /// <summary>Before a wait: waiting for a lock this thread holds would never end.</summary>
    private void ThrowIfHeldByThisThread()
    {
        if (IsHeldByThisThread())
        {
            throw new InvalidOperationException($"Segment '{_segmentName}': this thread already holds the lock; locking it again would deadlock.");
        }
    }

    /// <summary>pthread_mutex_init with our attributes (process-shared, robust, of <paramref name="type"/>); 0 or the error.</summary>
    private static int InitialiseAt(void* mutex, int type = Interop.PTHREAD_MUTEX_NORMAL)
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
                : Interop.PThreadMutexAttrSetType(attr, type) is var typed and not 0 ? typed
                : Interop.PThreadMutexInit(mutex, attr);
        }
        finally
        {
            _ = Interop.PThreadMutexAttrDestroy(attr);
        }
    }

    private static int ExpectedKind(int type)
    {
        byte* probe = stackalloc byte[Interop.PThreadMutexReservedSize];
        new Span<byte>(probe, Interop.PThreadMutexReservedSize).Clear();
        int error = InitialiseAt(probe, type);
        return error == 0 ? *(int*)(probe + KindOffset) : throw new NativeCallException("pthread_mutex_init failed for a probe mutex.", errno: error);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDamaged(int kind) =>
        throw new SegmentCorruptException("Its lock is damaged: the mutex's type is not the one Membrane creates.", _segmentName,
            expected: $"type word 0x{s_expectedKind:x} (process-shared, robust; 0x{s_errorCheckingKind:x} error-checking, as 0.9 made it)", found: $"type word 0x{kind:x}");

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
            case Interop.EDEADLK: // only from an error-checking mutex of 0.9
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
