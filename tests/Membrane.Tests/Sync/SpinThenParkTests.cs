using System.Runtime.InteropServices;
using Membrane.Diagnostics;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Tests.Sync;

/// <summary>
/// The waiting policy on its own, with a parking that returns at once (as if woken every time) and a wait that counts
/// how often it is looked at. The shared words live in native memory, as they would in a mapping.
/// </summary>
public sealed class SpinThenParkTests : IDisposable
{
    private readonly unsafe nint _words = (nint)NativeMemory.AllocZeroed(128); // the parked count at 0, the position at 64

    public unsafe void Dispose() => NativeMemory.Free((void*)_words);

    [Fact]
    public unsafe void A_wake_that_brings_nothing_makes_the_waiter_look_again_and_again_before_it_parks_again()
    {
        var wait = new CountedWait();
        var parking = new WokenAtOnce(wait, stopAtPark: 2);

        bool done = SpinThenPark.Until(ref wait, static (ref CountedWait w) => w.Look(), checkPeer: null, ref *(int*)_words, ref *(long*)(_words + 64),
            parking, TimeSpan.FromSeconds(30), spin: new AdaptiveSpin { Configured = TimeSpan.Zero }, new WaitTally(MembraneMetrics.Tag("test")), CancellationToken.None);

        AssertSpunBetweenParks(done, parking);
    }

    [Fact]
    public void A_spin_doubles_after_each_short_park_up_to_its_longest_and_halves_after_each_long_one_down_to_the_configured()
    {
        var spin = new AdaptiveSpin { Configured = TimeSpan.FromMicroseconds(20) };
        long shortPark = Ticks(TimeSpan.FromMicroseconds(60));
        long longPark = Ticks(TimeSpan.FromMilliseconds(50));

        spin.Learn(shortPark);
        AssertAbout(TimeSpan.FromMicroseconds(40), spin.Current);
        for (int i = 0; i < 10; i++)
        {
            spin.Learn(shortPark);
        }
        AssertAbout(AdaptiveSpin.Longest, spin.Current);
        spin.Learn(0); // a wait that never parked teaches nothing
        AssertAbout(AdaptiveSpin.Longest, spin.Current);
        spin.Learn(longPark);
        AssertAbout(AdaptiveSpin.Longest / 2, spin.Current);
        for (int i = 0; i < 10; i++)
        {
            spin.Learn(longPark);
        }
        AssertAbout(TimeSpan.FromMicroseconds(20), spin.Current);
    }

    [Fact]
    public void A_spin_configured_to_zero_parks_at_once_whatever_the_parks_were()
    {
        var spin = new AdaptiveSpin { Configured = TimeSpan.Zero };

        spin.Learn(Ticks(TimeSpan.FromMicroseconds(5)));

        Assert.Equal(TimeSpan.Zero, spin.Current);
    }

    [Fact]
    public unsafe void A_wait_whose_park_lasts_longer_than_the_longest_spin_spins_less_the_next_time()
    {
        // Grown to its longest, as two processes answering each other would grow it; then a park that lasts 2 ms (the
        // parking below holds the waiter that long, as a quiet peer would): the wait must teach the spin to shrink.
        var spin = new AdaptiveSpin { Configured = TimeSpan.FromMicroseconds(20) };
        for (int i = 0; i < 10; i++)
        {
            spin.Learn(1);
        }
        Assert.Equal(AdaptiveSpin.Longest, spin.Current);
        var wait = new CountedWait();
        var parking = new WokenAfter(wait, TimeSpan.FromMilliseconds(2));

        bool done = SpinThenPark.Until(ref wait, static (ref CountedWait w) => w.Look(), checkPeer: null, ref *(int*)_words, ref *(long*)(_words + 64),
            parking, TimeSpan.FromSeconds(30), spin, new WaitTally(MembraneMetrics.Tag("test")), CancellationToken.None);

        Assert.True(done);
        AssertAbout(AdaptiveSpin.Longest / 2, spin.Current);
    }

    private static void AssertAbout(TimeSpan expected, TimeSpan actual) =>
        Assert.InRange(actual, expected - TimeSpan.FromMicroseconds(1), expected + TimeSpan.FromMicroseconds(1));

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    [Fact]
    public async Task The_asynchronous_wait_spins_after_a_wake_that_brings_nothing_too()
    {
        var wait = new CountedWait();
        var parking = new WokenAtOnce(wait, stopAtPark: 2);

        bool done = await SpinThenPark.UntilAsync(wait, static w => w.Look(), checkPeer: null, _words, _words + 64, new MappingUsers(static () => { }),
            parking, TimeSpan.FromSeconds(30), spin: new AdaptiveSpin { Configured = TimeSpan.Zero }, new WaitTally(MembraneMetrics.Tag("test")), CancellationToken.None);

        AssertSpunBetweenParks(done, parking);
    }

    /// <summary>
    /// Between two parks a waiter that does not spin looks at most three times: on waking, the spin's first look, and the
    /// re-check after announcing. Spinning adds a round of 16 looks before its first look at the clock, so only a thread
    /// preempted for the whole spin in the nanoseconds between two clock reads could show three.
    /// </summary>
    private static void AssertSpunBetweenParks(bool done, WokenAtOnce parking)
    {
        Assert.True(done);
        Assert.Equal(2, parking.LooksAtPark.Count);
        int between = parking.LooksAtPark[1] - parking.LooksAtPark[0];
        Assert.True(between > 3, $"{between} looks between the wake and the next park: the waiter parked again without spinning");
    }

    /// <summary>A wait that is over once told so, and counts the looks until then.</summary>
    private sealed class CountedWait
    {
        internal int Looks { get; private set; }

        internal bool Over { get; set; }

        internal bool Look()
        {
            Looks++;
            return Over;
        }
    }

    /// <summary>Parking whose first park holds the waiter for <paramref name="held"/> (without sleeping: a clock, not a timer), then ends the wait.</summary>
    private sealed unsafe class WokenAfter(CountedWait wait, TimeSpan held) : Parking
    {
        internal override void Park(int* word, int observed, TimeSpan timeout)
        {
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + Ticks(held);
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(100);
            }
            wait.Over = true;
        }

        internal override void Wake(int* word)
        {
        }

        internal override ValueTask ParkAsync(nint word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation) =>
            throw new NotSupportedException("synchronous waits only");

        internal override bool CancelsAsyncParks => true;
    }

    /// <summary>Parking whose every park returns at once, as if woken; it records the looks so far, and ends the wait at a given park.</summary>
    private sealed unsafe class WokenAtOnce(CountedWait wait, int stopAtPark) : Parking
    {
        internal List<int> LooksAtPark { get; } = [];

        internal override void Park(int* word, int observed, TimeSpan timeout) => Record();

        internal override void Wake(int* word)
        {
        }

        internal override ValueTask ParkAsync(nint word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation)
        {
            Record();
            return ValueTask.CompletedTask;
        }

        internal override bool CancelsAsyncParks => true;

        private void Record()
        {
            LooksAtPark.Add(wait.Looks);
            wait.Over = LooksAtPark.Count == stopAtPark;
        }
    }
}
