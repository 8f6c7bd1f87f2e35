using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Arcs;

/// <summary>
/// An <c>Arc</c> across processes: a handle to one unmanaged <typeparamref name="T"/> in a named shared-memory
/// segment, with a reference count kept in the segment and a robust process-shared lock.
/// <para>
/// References are counted per attached process in the segment's process table; a process that dies (even by
/// <c>kill -9</c>) stops counting, so the last live <see cref="Dispose"/> — or <c>membrane gc</c> once every holder
/// died — removes the segment. <see cref="Lock()"/> gives zero-copy <c>ref T</c> access; a holder that dies inside the
/// lock hands it to the next locker with <see cref="IpcArcGuard{T}.PreviousOwnerDied"/> set. <see cref="Read()"/> copies
/// the value without the lock (a sequence lock: the holder makes the sequence odd while it may write, even when it
/// publishes; a reader retries until it read the same even sequence before and after its copy).
/// </para>
/// <para>Opening checks that the segment holds this very layout of <typeparamref name="T"/> (see <see cref="TypeFingerprint"/>).</para>
/// </summary>
/// <typeparam name="T">An unmanaged struct with no pointers: the same bytes must mean the same thing in every process.</typeparam>
[DebuggerDisplay("IpcArc<{typeof(T).Name}> {Name}")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000:Do not declare static members on generic types",
    Justification = "IpcArc<T>.Create/Open are the API the design asks for, as Arc::new is in Rust; T cannot be inferred from a name.")]
public sealed unsafe class IpcArc<T> : IDisposable
    where T : unmanaged
{
    /// <summary>Spins of a reader on an odd sequence between two checks that the holder is alive.</summary>
    private const int SpinsBetweenLivenessChecks = 4096;

    private readonly SharedSegment _segment;
    private int _disposed;
    private int _unmapped; // claimed by whichever of Dispose and the last guard's Release unmaps the segment
    private readonly RobustMutex _mutex;
    private readonly byte* _payload;
    private readonly ulong _me = ProcessIdentity.Current.Packed;

    /// <summary>
    /// The number of the acquisition that holds the lock through this handle; 0 while none does. Only the guard of that
    /// acquisition may release it: a guard is a struct, so a copy of it can be disposed after the original, and a copy's
    /// number is never here again (its original's release set 0 before it, on the same thread, since a guard cannot
    /// leave its thread; later acquisitions get higher numbers). No thread identity is needed, so none is fetched.
    /// </summary>
    private long _heldAcquisition;

    /// <summary>Counts this handle's acquisitions, under the lock: each guard's number is unique to the handle.</summary>
    private long _acquisitions;

    private IpcArc(SharedSegment segment)
    {
        _segment = segment;
        _payload = segment.PayloadPointer;
        // The holder record names this process's identity, which no process of another PID namespace shares: the lock
        // word's thread id alone can be another container's thread (see RobustMutex).
        _mutex = new RobustMutex(_payload + ArcLayout.MutexOffset, segment.Name, () => Volatile.Read(ref Holder) == _me);
        try
        {
            _mutex.Validate();
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    /// <summary>The segment's name.</summary>
    public string Name => _segment.Name;

    /// <summary>
    /// Counts the live references across all processes (dead processes' references are not counted). A method, not a
    /// property: it reads the segment's table of attached processes and asks the system about each one's liveness, which
    /// costs a system call or two a process. For diagnostics, not for a hot path.
    /// </summary>
    public int CountReferences()
    {
        ThrowIfDisposed();
        _segment.CountAttached(out int references);
        return references;
    }

    /// <summary>Creates the value; fails with <see cref="SegmentAlreadyExistsException"/> if the name exists.</summary>
    public static IpcArc<T> Create(string name, T value, IpcArcOptions? options = null) =>
        new(SharedSegment.Create(name, ArcLayout.PayloadSize(sizeof(T)), Spec(), SegmentOptions(options), s => Initialise(s, value)));

    /// <summary>
    /// Opens an existing value; fails with <see cref="SegmentNotFoundException"/> if it is missing and
    /// <see cref="SegmentLayoutMismatchException"/> (naming both types) if it holds another layout than <typeparamref name="T"/>.
    /// </summary>
    public static IpcArc<T> Open(string name, IpcArcOptions? options = null) =>
        new(SharedSegment.Open(name, Spec(), SegmentOptions(options)));

    /// <summary>Opens the value if it exists, else creates it with <paramref name="value"/>; safe when processes race.</summary>
    public static IpcArc<T> OpenOrCreate(string name, T value, IpcArcOptions? options = null) =>
        new(SharedSegment.OpenOrCreate(name, ArcLayout.PayloadSize(sizeof(T)), Spec(), SegmentOptions(options), s => Initialise(s, value)));

    /// <summary>Another reference to the same value (like <c>Arc::clone</c>); dispose it separately.</summary>
    public IpcArc<T> Clone()
    {
        ThrowIfDisposed();
        return Open(Name);
    }

    /// <summary>Blocks until the lock is held.</summary>
    /// <exception cref="InvalidOperationException">
    /// This thread already holds the lock, through this handle or another one to the same value: waiting would deadlock.
    /// The other lock methods throw it too.
    /// </exception>
    public IpcArcGuard<T> Lock()
    {
        ThrowIfDisposed();
        return Acquired(_mutex.Lock());
    }

    /// <summary>Blocks until the lock is held or <paramref name="cancellation"/> fires (<see cref="OperationCanceledException"/>).</summary>
    public IpcArcGuard<T> Lock(CancellationToken cancellation)
    {
        ThrowIfDisposed();
        return Acquired(_mutex.TryLock(Timeout.InfiniteTimeSpan, cancellation));
    }

    /// <summary>Takes the lock if that is possible within <paramref name="timeout"/>; false when the time ran out.</summary>
    public bool TryLock(TimeSpan timeout, out IpcArcGuard<T> guard) => TryLock(timeout, CancellationToken.None, out guard);

    /// <summary>As <see cref="TryLock(TimeSpan, out IpcArcGuard{T})"/>, also giving up when <paramref name="cancellation"/> fires.</summary>
    public bool TryLock(TimeSpan timeout, CancellationToken cancellation, out IpcArcGuard<T> guard)
    {
        ThrowIfDisposed();
        LockOutcome outcome = _mutex.TryLock(timeout, cancellation);
        guard = outcome == LockOutcome.TimedOut ? default : Acquired(outcome);
        return outcome != LockOutcome.TimedOut;
    }

    /// <summary>
    /// Replaces the value under the lock: the zero-copy <see cref="Lock()"/> for the common case of a whole new value.
    /// True when the previous holder had died holding the lock (the value this one replaced may have been half-written).
    /// </summary>
    public bool Write(in T value)
    {
        using IpcArcGuard<T> guard = Lock();
        if (CrashPoints.Armed)
        {
            CrashPoints.ReachMidCopy(CrashPoints.ArcLockMidUpdate,
                new ReadOnlySpan<byte>(Unsafe.AsPointer(in value), sizeof(T)), new Span<byte>(Unsafe.AsPointer(ref guard.Value), sizeof(T)));
        }
        guard.Value = value;
        return guard.PreviousOwnerDied;
    }

    /// <summary>
    /// A consistent copy of the value, without taking the lock: never torn, never blocking the holder. Waits while a
    /// holder is changing the value; throws <see cref="LockHolderDiedException"/> if that holder died mid-change (the
    /// next <see cref="Lock()"/> reports it and repairs; reads work again after).
    /// </summary>
    public T Read() => Read(Timeout.InfiniteTimeSpan, CancellationToken.None);

    /// <summary>
    /// <see cref="Read()"/>, waiting at most <paramref name="timeout"/> for a holder that is changing the value, and
    /// giving up when <paramref name="cancellation"/> fires (<see cref="OperationCanceledException"/>).
    /// </summary>
    /// <exception cref="TimeoutException">A holder was still changing the value when the time ran out.</exception>
    public T Read(TimeSpan timeout, CancellationToken cancellation = default)
    {
        ThrowIfDisposed();
        ref long sequence = ref Sequence;
        var spinner = default(SpinWait);
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : System.Diagnostics.Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        for (int spins = 1; ; spins++)
        {
            // Acquire; pairs with the holder's release of an even sequence in Release().
            long before = Volatile.Read(ref sequence);
            if ((before & 1) == 0)
            {
                T copy = Unsafe.ReadUnaligned<T>(_payload + ArcLayout.ValueOffset);
                // The copy's loads complete before the sequence is read again (pairs with the holder's WriteBarrier).
                Volatile.ReadBarrier();
                if (Volatile.Read(ref sequence) == before)
                {
                    return copy;
                }
                continue;
            }
            if (spins % SpinsBetweenLivenessChecks == 0)
            {
                ThrowIfHolderDied();
                cancellation.ThrowIfCancellationRequested();
                if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"IpcArc '{Name}': the lock's holder was still changing the value after {timeout.TotalMilliseconds:0.###} ms.");
                }
            }
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// Drops this reference; the last live reference removes the segment. A guard still holding the lock keeps the value
    /// mapped until it is disposed (then the reference goes). Idempotent, thread-safe, never throws.
    /// </summary>
    public void Dispose()
    {
        // A full fence between the store and the load; pairs with the one in Release (see there).
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && Volatile.Read(ref _heldAcquisition) == 0)
        {
            Unmap(); // no guard holds the lock: nothing uses the value any more
        }
    }

    /// <summary>
    /// Unmaps the segment (dropping this handle's reference) once: Dispose and a guard released after it can both get
    /// here, and only one may.
    /// </summary>
    private void Unmap()
    {
        if (Interlocked.Exchange(ref _unmapped, 1) == 0)
        {
            _segment.Dispose();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>
    /// Called by the guard of <paramref name="acquisition"/>: publish the value (even sequence), then release. A guard
    /// of an earlier acquisition (a copy disposed again) changes nothing: it would publish a value another holder is
    /// still writing, or take the lock from under it.
    /// </summary>
    internal void Release(long acquisition)
    {
        if (Volatile.Read(ref _heldAcquisition) != acquisition)
        {
            return;
        }
        ref long sequence = ref Sequence;
        // Release; pairs with the acquire read of the sequence in Read(): every write through the guard is visible first.
        Volatile.Write(ref sequence, sequence + 1);
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.ArcUnlockBeforeRelease);
        }
        // After the sequence: a holder dying between the two leaves a readable value and a stale holder, never an
        // odd sequence with no holder to blame.
        Volatile.Write(ref Holder, 0UL);
        Volatile.Write(ref _heldAcquisition, 0L);
        _mutex.Unlock();
        // A guard keeps the value mapped after its handle is disposed; the last one out unmaps. No atomic operation of our
        // own here (two of them cost an uncontended lock+unlock half again): pthread_mutex_unlock's atomic exchange of the
        // lock word is the full fence between the store of _heldAcquisition above and this load (an xchg on x86-64; a
        // store-release that this acquire load cannot pass on arm64). With Dispose's store-fence-load, at least one of
        // the two sees the other, and Unmap lets only one of them act.
        if (Volatile.Read(ref _disposed) != 0)
        {
            Unmap();
        }
    }

    private IpcArcGuard<T> Acquired(LockOutcome outcome)
    {
        Debug.Assert(outcome != LockOutcome.TimedOut, "not held");
        long acquisition = ++_acquisitions;
        Volatile.Write(ref _heldAcquisition, acquisition);
        // Holder first, then the odd sequence: a reader that sees odd also sees whom to check on.
        Volatile.Write(ref Holder, _me);
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.ArcLockAfterAcquire);
        }
        if (outcome == LockOutcome.AcquiredOwnerDied)
        {
            // Under the lock, so a plain increment; the unlock publishes it. Only this rare path pays for it.
            Unsafe.AsRef<long>(_payload + ArcLayout.OwnerDiedCountOffset)++;
        }
        ref long sequence = ref Sequence;
        long current = Volatile.Read(ref sequence);
        if ((current & 1) == 0)
        {
            Volatile.Write(ref sequence, current + 1);
            // No write through the guard may become visible before the odd sequence (pairs with Read's ReadBarrier).
            Volatile.WriteBarrier();
        }
        // An odd sequence here means the previous holder died mid-change: it stays odd until we publish.
        return new IpcArcGuard<T>(this, acquisition, ref Unsafe.AsRef<T>(_payload + ArcLayout.ValueOffset), outcome == LockOutcome.AcquiredOwnerDied);
    }

    private void ThrowIfHolderDied()
    {
        if (_mutex.IsHeldByThisThread())
        {
            throw new InvalidOperationException($"IpcArc '{Name}': Read() while this thread holds the lock would wait for itself; use the guard's Value.");
        }
        ulong holder = Volatile.Read(ref Holder);
        if (holder == 0 && (Volatile.Read(ref Sequence) & 1) != 0)
        {
            // A holder is recorded before the sequence turns odd and cleared after it turns even: an odd sequence with
            // nobody holding the lock is damage, and waiting for it to change would wait for ever.
            throw new SegmentCorruptException("The value is marked as being changed, but nobody holds the lock.", Name,
                expected: "an even sequence, or a lock holder", found: $"sequence {Volatile.Read(ref Sequence)} and no holder");
        }
        if (holder != 0 && !_segment.Processes.IsAlive(holder))
        {
            throw new LockHolderDiedException(
                "The process holding the lock died while it could have been changing the value, which may be half-written.", Name,
                expected: "a published value", found: $"lock holder pid {(int)(uint)holder} dead mid-change; Lock() to repair");
        }
    }

    private ref long Sequence => ref Unsafe.AsRef<long>(_payload + ArcLayout.SequenceOffset);

    private ref ulong Holder => ref Unsafe.AsRef<ulong>(_payload + ArcLayout.HolderOffset);

    private static void Initialise(SharedSegment segment, T value)
    {
        byte* payload = segment.PayloadPointer;
        new RobustMutex(payload + ArcLayout.MutexOffset, segment.Name).Initialise();
        Unsafe.WriteUnaligned(payload + ArcLayout.ValueOffset, value);
        // Holder and sequence start at 0 (the file is zero-filled); Ready is published by the creator's CAS.
    }

    /// <summary>Throws ArgumentException for a type that cannot live in shared memory, before anything is created.</summary>
    private static PayloadSpec Spec() => new(SegmentKind.Arc, TypeFingerprint.Of<T>());

    private static SegmentOptions SegmentOptions(IpcArcOptions? options) => new()
    {
        Mode = options?.Mode ?? Segments.SegmentOptions.Default.Mode,
        InitialisationTimeout = options?.InitialisationTimeout ?? Segments.SegmentOptions.Default.InitialisationTimeout,
        Mapping = options?.Mapping ?? default,
        RemoveWhenUnused = true,
    };
}
