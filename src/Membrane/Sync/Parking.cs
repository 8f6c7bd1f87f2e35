using Membrane.Segments;

namespace Membrane.Sync;

/// <summary>
/// How a waiter sleeps until a publisher in another process wakes it, and how the publisher wakes it. The word is
/// the low half of the position the waiter waits on (see <see cref="SpinThenPark"/>): a futex parks on it directly;
/// a descriptor-based parking uses it only to tell which of its waiters is meant.
/// </summary>
internal abstract unsafe class Parking
{
    /// <summary>Futex parking, for peers that share a named segment (and so can be told apart by process identity).</summary>
    internal static Parking Futex { get; } = new FutexParking();

    /// <summary>Sleeps while <c>*word == observed</c>, at most <paramref name="timeout"/>; may return early (callers re-check).</summary>
    internal abstract void Park(int* word, int observed, TimeSpan timeout);

    /// <summary>Wakes whoever is parked on <paramref name="word"/>.</summary>
    internal abstract void Wake(int* word);

    /// <summary>
    /// The asynchronous <see cref="Park"/>: completes on a wake, a timeout or a cancellation (then it throws). The word
    /// lives in <paramref name="mapping"/>, which must stay mapped for as long as anything may still read the word.
    /// </summary>
    internal abstract ValueTask ParkAsync(nint word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation);

    /// <summary>Whether <see cref="ParkAsync"/> ends at once on cancellation (if not, callers park in slices to look at it).</summary>
    internal abstract bool CancelsAsyncParks { get; }

    private sealed class FutexParking : Parking
    {
        internal override void Park(int* word, int observed, TimeSpan timeout) => Sync.Futex.Wait(word, observed, timeout);

        internal override void Wake(int* word) => Sync.Futex.WakeAll(word);

        /// <summary>
        /// Through the process's <see cref="FutexReactor"/>; on a kernel without <c>futex_waitv</c> (before 5.16), on a
        /// thread of its own for the length of the park, as a futex has no descriptor to poll.
        /// </summary>
        internal override ValueTask ParkAsync(nint word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation) =>
            FutexReactor.Shared is { } reactor
                ? reactor.ParkAsync((int*)word, observed, timeout, mapping, cancellation)
                : ParkOnAThread(word, observed, timeout, cancellation);

        /// <summary>Apart, so that its closure is not allocated on the reactor's path too.</summary>
        private static ValueTask ParkOnAThread(nint word, int observed, TimeSpan timeout, CancellationToken cancellation) =>
            new(Task.Factory.StartNew(() => Sync.Futex.Wait((int*)word, observed, timeout), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default));

        internal override bool CancelsAsyncParks => FutexReactor.Shared is not null;
    }
}
