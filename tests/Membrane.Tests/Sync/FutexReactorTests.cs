using System.Globalization;
using Membrane.Sync;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Sync;

/// <summary>Asynchronous waits handed to the process's futex reactor, across real processes.</summary>
public sealed class FutexReactorTests : IDisposable
{
    private const int Rings = 1000;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void A_thousand_pending_ReadAsync_calls_cost_at_most_eight_threads_and_each_completes_when_another_process_writes()
    {
        string prefix = _segments.NewName("many");
        for (int i = 0; i < Rings; i++)
        {
            _segments.Track(Name(prefix, i));
        }
        using Peer awaiting = Peer.Start("async-ring-await-many", prefix, Rings.ToString(CultureInfo.InvariantCulture));
        awaiting.Expect("created");
        var rings = new SharedRing[Rings];
        var producers = new RingProducer[Rings];
        try
        {
            for (int i = 0; i < Rings; i++)
            {
                rings[i] = SharedRing.Open(Name(prefix, i));
                producers[i] = rings[i].CreateProducer();
            }
            string[] parked = (awaiting.ReadLine() ?? "").Split(' ');
            Assert.True(parked is ["parked", _, _, _], $"expected \"parked THREADS REACTOR CPU\", got \"{string.Join(' ', parked)}\"; stderr: {awaiting.Stderr}");
            int gained = int.Parse(parked[1], CultureInfo.InvariantCulture);
            int reactorThreads = int.Parse(parked[2], CultureInfo.InvariantCulture);
            Assert.True(gained <= 8, $"the thousand pending reads cost {gained} threads (reactor threads: {reactorThreads})");
            Assert.Equal((Rings + FutexReactor.WordsPerThread - 1) / FutexReactor.WordsPerThread, reactorThreads);

            for (int i = 0; i < Rings; i++)
            {
                Assert.True(producers[i].TryWrite(BitConverter.GetBytes((long)i)));
            }
            awaiting.Expect(string.Create(CultureInfo.InvariantCulture, $"received {Rings}"));
            Assert.Equal(0, awaiting.Finish());
        }
        finally
        {
            foreach (RingProducer? producer in producers)
            {
                producer?.Dispose();
            }
            foreach (SharedRing? ring in rings)
            {
                ring?.Dispose();
            }
        }
    }

    private static string Name(string prefix, int i) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");
}
