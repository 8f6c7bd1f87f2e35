using System.Threading.Tasks.Sources;
using Membrane.Segments;

namespace Membrane.Sync;

internal sealed unsafe partial class FutexReactor
{
    /// <summary>
    /// One pending park: what the reactor waits on for it, and the source its caller awaits. Pooled: it has two holders,
    /// the reactor thread (until it completes the park, or drops one a cancellation completed) and the awaiter (until it
    /// has its result), and goes back to the pool when both have let go, so the reactor never reads a word whose park was
    /// reused or whose mapping is gone. A reactor that completes a park lets go of it first, before the awaiter's
    /// continuation can run: a waiter that goes on to dispose its handle then finds the mapping held by no one else, and
    /// the segment is detached (removed, if it was the last) when the dispose returns, not later on the reactor thread.
    /// The same holds for a waiter that gives up: a cancellation marks the park completed and wakes the reactor, which
    /// drops the park, lets go, and only then completes it with the cancellation (a round of the reactor's thread later).
    /// </summary>
    /// <remarks>
    /// Where the continuation runs. A park completed by its reactor thread while no other park is pending in the process
    /// runs its continuation right there (<see cref="Shard.TryRunAlone"/>): handing it to the thread pool would take a second
    /// thread's wake, after the reactor's own, before the waiter sees its message, and on this repository's VM a core
    /// that slept takes up to 70 µs to wake (a 1 MiB round trip awaited took 1.2–1.4× the parked synchronous one that
    /// way). Otherwise — other parks, whose wakes it must not hold up and which a wait parking again from the
    /// continuation would have to find room beside, or a cancelling thread — completing
    /// queues the park itself to the thread pool as a work item, which then completes the source and runs the
    /// continuation. Unlike <c>RunContinuationsAsynchronously</c>, which wraps each continuation in a new work item,
    /// that allocates nothing.
    /// </remarks>
    private sealed class Park(FutexReactor reactor) : IValueTaskSource, IThreadPoolWorkItem
    {
        private ManualResetValueTaskSourceCore<bool> _core;
        private int _completed; // Pending, then ByReactor or ByCancellation, whichever came first
        private CancellationToken _cancelledBy;

        private const int Pending = 0;
        private const int ByReactor = 1;
        private const int ByCancellation = 2;
        private int _holders;
        private Shard? _shard;
        private MappingUsers? _mapping;
        private CancellationTokenRegistration _cancellation;

        internal int* Word { get; private set; }

        internal int Observed { get; private set; }

        /// <summary>A <see cref="System.Diagnostics.Stopwatch"/> timestamp; <see cref="long.MaxValue"/> for none.</summary>
        internal long Deadline { get; private set; }

        internal short Version => _core.Version;

        internal bool IsCompleted => Volatile.Read(ref _completed) != Pending;

        internal void Start(Shard shard, int* word, int observed, long deadline, MappingUsers mapping, CancellationToken cancellation)
        {
            _completed = Pending;
            _cancelledBy = default;
            _holders = 2;
            _shard = shard;
            Word = word;
            Observed = observed;
            Deadline = deadline;
            _mapping = mapping;
            if (cancellation.CanBeCanceled)
            {
                _cancellation = cancellation.UnsafeRegister(static (state, token) => ((Park)state!).Cancel(token), this);
            }
        }

        /// <summary>
        /// The reactor's verdict (woken, changed or timed out: all mean "look again"), given on the reactor thread, which
        /// has dropped the park and never reads its word again: so it lets go of the park here, before the continuation
        /// runs. A park a cancellation completed first is let go too, then completed with that cancellation.
        /// </summary>
        internal void CompleteAndLetGo()
        {
            if (Interlocked.CompareExchange(ref _completed, ByReactor, Pending) != Pending)
            {
                LetGo(); // the awaiter still holds the park until its result, so it is not reused before it runs
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }
            Shard shard = _shard!; // read before letting go; the awaiter still holds the park until its result, so it is not reused
            shard.Release();
            reactor.Completed();
            LetGo();
            if (!shard.TryRunAlone(this, reactor))
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        private void Cancel(CancellationToken token)
        {
            Shard shard = _shard!; // read first: once completed, the park may be let go and reused (set before this callback was registered)
            _cancelledBy = token; // before the exchange that publishes it: the reactor may complete the park right after
            if (Interlocked.CompareExchange(ref _completed, ByCancellation, Pending) != Pending)
            {
                return;
            }
            shard.Release();
            reactor.Completed();
            // The reactor drops the park now, not at its next wake, and completes it once it has let go (CompleteAndLetGo).
            shard.Signal();
        }

        /// <summary>On the thread pool: completes the source, which runs the awaiting continuation here.</summary>
        void IThreadPoolWorkItem.Execute()
        {
            if (Volatile.Read(ref _completed) == ByCancellation)
            {
                _core.SetException(new OperationCanceledException(_cancelledBy));
            }
            else
            {
                _core.SetResult(true);
            }
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                _cancellation.Dispose();
                _cancellation = default;
                LetGo();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        /// <summary>One holder is done with the park (each calls this once); the last one lets the mapping go and pools the park.</summary>
        internal void LetGo()
        {
            if (Interlocked.Decrement(ref _holders) != 0)
            {
                return;
            }
            MappingUsers? mapping = _mapping;
            _mapping = null;
            _shard = null;
            Word = null;
            _core.Reset();
            mapping?.Remove();
            reactor.Return(this);
        }
    }
}
