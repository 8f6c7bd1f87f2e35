using System.Runtime.InteropServices;
using Membrane.Native;
using Membrane.Segments;

namespace Membrane.Sync;

/// <summary>
/// One waiter for the whole process: an asynchronous park on a futex word (a ring's or a journal's) is handed to a
/// reactor thread that waits on up to <see cref="WordsPerThread"/> words at once with <c>futex_waitv</c> (Linux 5.16),
/// and completes the park through a pooled <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/> — no thread
/// and, in steady state, no allocation per wait. A thousand pending waits take eight reactor threads, not a thousand.
/// <para>
/// Protocol. A park is completed when its word is woken, when the reactor finds the word no longer holding the value the
/// waiter saw (the waiter announced itself before reading it, so a publication after that read either changes the word
/// or wakes it), at its deadline, or on cancellation. Completion means only "look again": the caller re-checks its
/// condition, as after any futex wait. A <c>futex_waitv</c> returns one woken index, so a second word woken at the same
/// moment without a change of value (a peer closing) is noticed at that park's next deadline: callers wait in slices.
/// </para>
/// <para>
/// Each reactor thread also waits on a control word of its own, which a new park or a cancellation bumps and wakes, so
/// that it takes the park into its next call at once. Threads are made as parks need them and then kept, idle on their
/// control word. A kernel without <c>futex_waitv</c> (or a sandbox that refuses it) leaves <see cref="Shared"/> null,
/// and asynchronous parks fall back to a thread each (see <see cref="Parking"/>).
/// </para>
/// </summary>
internal sealed unsafe partial class FutexReactor
{
    /// <summary>Words one reactor thread waits on for its callers (the last of the kernel's 128 is its control word).</summary>
    internal const int WordsPerThread = Interop.FUTEX_WAITV_MAX - 1;

    /// <summary>Set to 0, the reactor is not used even where the kernel has futex_waitv (asynchronous parks take a thread each).</summary>
    internal const string EnvironmentVariable = "MEMBRANE_FUTEX_WAITV";

    private static readonly Lazy<FutexReactor?> s_shared = new(() => IsSupported() ? new FutexReactor() : null);

    private readonly Lock _gate = new();
    private readonly List<Shard> _shards = [];
    private readonly Stack<Park> _pool = new();
    private int _pending; // parks made and not yet completed, on every shard

    private FutexReactor()
    {
    }

    /// <summary>The process's reactor, or null when the kernel has no <c>futex_waitv</c>.</summary>
    internal static FutexReactor? Shared => s_shared.Value;

    /// <summary>How many reactor threads there are.</summary>
    internal int Threads
    {
        get
        {
            lock (_gate)
            {
                return _shards.Count;
            }
        }
    }

    /// <summary>
    /// Completes when <paramref name="word"/> is woken or no longer holds <paramref name="observed"/>, or when
    /// <paramref name="timeout"/> has passed; throws <see cref="OperationCanceledException"/> on cancellation. The mapping
    /// holding the word is kept mapped (one more user in <paramref name="mapping"/>) until the reactor has let go of it.
    /// </summary>
    internal ValueTask ParkAsync(int* word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation)
    {
        if (!mapping.TryAdd())
        {
            return ValueTask.CompletedTask; // already unmapped: the caller looks again and hears that its handle was disposed
        }
        Interlocked.Increment(ref _pending);
        Park park = Rent();
        Shard shard = Place();
        park.Start(shard, word, observed, Deadline(timeout), mapping, cancellation);
        shard.Add(park);
        return new ValueTask(park, park.Version);
    }

    /// <summary>A park was completed (by its reactor thread, or cancelled).</summary>
    private void Completed() => Interlocked.Decrement(ref _pending);

    /// <summary>Whether no park is pending anywhere (then a continuation run on a reactor thread can hold up no other, nor make one spill onto a new thread).</summary>
    private bool NothingPending => Volatile.Read(ref _pending) == 0;

    private static long Deadline(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan || timeout.TotalDays > 365
            ? long.MaxValue
            : System.Diagnostics.Stopwatch.GetTimestamp() + (long)(Math.Max(0, timeout.TotalSeconds) * System.Diagnostics.Stopwatch.Frequency);

    /// <summary>The first reactor thread with room, or a new one.</summary>
    private Shard Place()
    {
        lock (_gate)
        {
            foreach (Shard shard in _shards)
            {
                if (shard.TryReserve())
                {
                    return shard;
                }
            }
            var added = new Shard(_shards.Count);
            _shards.Add(added);
            added.TryReserve();
            return added;
        }
    }

    private Park Rent()
    {
        lock (_pool)
        {
            if (_pool.TryPop(out Park? park))
            {
                return park;
            }
        }
        return new Park(this);
    }

    private void Return(Park park)
    {
        lock (_pool)
        {
            _pool.Push(park);
        }
    }

    /// <summary>
    /// True when <c>futex_waitv</c> is there: a call with no words is refused with EINVAL by a kernel that has it, with
    /// ENOSYS by one that has not (EPERM from a seccomp filter counts as not there).
    /// </summary>
    private static bool IsSupported() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) != "0"
        && Interop.FutexWaitv(null, 0, null) == -1 && Marshal.GetLastPInvokeError() == Interop.EINVAL;
}
