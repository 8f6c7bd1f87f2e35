namespace Membrane.Arcs;

/// <summary>
/// Holds an <see cref="IpcArc{T}"/>'s lock; <see cref="Dispose"/> releases it. A <c>ref struct</c> so that it cannot
/// be stored on the heap or held across an <c>await</c>: a pthread mutex must be released by the thread that took it.
/// </summary>
public ref struct IpcArcGuard<T>
    where T : unmanaged
{
    private IpcArc<T>? _arc;
    private readonly long _acquisition;
    private readonly ref T _value;

    internal IpcArcGuard(IpcArc<T> arc, long acquisition, ref T value, bool previousOwnerDied)
    {
        _arc = arc;
        _acquisition = acquisition;
        _value = ref value;
        PreviousOwnerDied = previousOwnerDied;
    }

    /// <summary>The value itself in shared memory, zero-copy: read and write it through this reference while the guard is held.</summary>
    public readonly ref T Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(_arc is null, typeof(IpcArcGuard<T>));
            return ref _value;
        }
    }

    /// <summary>
    /// The previous holder died holding the lock: the value may be half-written. Check and repair it before releasing;
    /// lock-free reads resume when this guard is disposed.
    /// </summary>
    public bool PreviousOwnerDied { get; }

    /// <summary>
    /// Publishes the value to lock-free readers and releases the lock. A second call does nothing, and neither does a
    /// call on a copy of a guard already disposed, even when the lock has been taken again since.
    /// </summary>
    public void Dispose()
    {
        IpcArc<T>? arc = _arc;
        _arc = null;
        arc?.Release(_acquisition);
    }
}
