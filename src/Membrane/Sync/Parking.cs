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

    /// <summary>The asynchronous <see cref="Park"/>: completes on a wake, a timeout or a cancellation (then it throws).</summary>
    internal abstract Task ParkAsync(nint word, int observed, TimeSpan timeout, CancellationToken cancellation);

    private sealed class FutexParking : Parking
    {
        internal override void Park(int* word, int observed, TimeSpan timeout) => Sync.Futex.Wait(word, observed, timeout);

        internal override void Wake(int* word) => Sync.Futex.WakeAll(word);

        /// <summary>A futex has no descriptor to poll, so an asynchronous park sleeps on a thread of its own.</summary>
        internal override Task ParkAsync(nint word, int observed, TimeSpan timeout, CancellationToken cancellation) =>
            Task.Factory.StartNew(() => Sync.Futex.Wait((int*)word, observed, timeout), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }
}
