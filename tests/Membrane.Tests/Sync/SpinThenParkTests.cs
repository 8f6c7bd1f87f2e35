using System.Runtime.InteropServices;
using Membrane.Diagnostics;
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
            parking, TimeSpan.FromSeconds(30), spin: TimeSpan.Zero, MembraneMetrics.Tag("test"), CancellationToken.None);

        AssertSpunBetweenParks(done, parking);
    }

    [Fact]
    public async Task The_asynchronous_wait_spins_after_a_wake_that_brings_nothing_too()
    {
        var wait = new CountedWait();
        var parking = new WokenAtOnce(wait, stopAtPark: 2);

        bool done = await SpinThenPark.UntilAsync(wait.Look, checkPeer: null, _words, _words + 64,
            parking, TimeSpan.FromSeconds(30), spin: TimeSpan.Zero, MembraneMetrics.Tag("test"), CancellationToken.None);

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

    /// <summary>Parking whose every park returns at once, as if woken; it records the looks so far, and ends the wait at a given park.</summary>
    private sealed unsafe class WokenAtOnce(CountedWait wait, int stopAtPark) : Parking
    {
        internal List<int> LooksAtPark { get; } = [];

        internal override void Park(int* word, int observed, TimeSpan timeout) => Record();

        internal override void Wake(int* word)
        {
        }

        internal override Task ParkAsync(nint word, int observed, TimeSpan timeout, CancellationToken cancellation)
        {
            Record();
            return Task.CompletedTask;
        }

        private void Record()
        {
            LooksAtPark.Add(wait.Looks);
            wait.Over = LooksAtPark.Count == stopAtPark;
        }
    }
}
