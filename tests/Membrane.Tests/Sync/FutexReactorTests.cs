using System.Globalization;
using Membrane.Rings;
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
        (int gained, int reactorThreads) = AwaitManyInAnotherProcess(Rings, environment: new Dictionary<string, string>());

        Assert.True(gained <= 8, $"the thousand pending reads cost {gained} threads (reactor threads: {reactorThreads})");
        Assert.Equal((Rings + FutexReactor.WordsPerThread - 1) / FutexReactor.WordsPerThread, reactorThreads);
    }

    [Fact]
    public void Without_futex_waitv_each_parked_ReadAsync_takes_a_thread_of_its_own_and_still_completes()
    {
        const int rings = 40;

        (int gained, int reactorThreads) = AwaitManyInAnotherProcess(rings, new Dictionary<string, string> { [FutexReactor.EnvironmentVariable] = "0" });

        Assert.Equal(0, reactorThreads);
        Assert.True(gained >= rings, $"{rings} reads parked on threads of their own should have taken {rings} threads, took {gained}");
    }

    [Fact]
    public async Task A_parked_async_wait_ends_at_once_when_cancelled_and_a_parked_wait_with_a_timeout_returns_false_at_it()
    {
        using var ring = SharedRing.Create(_segments.NewName("cancel"), new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using RingProducer producer = ring.CreateProducer();
        consumer.SpinBeforeParking = TimeSpan.Zero;
        using var cancel = new CancellationTokenSource();

        ValueTask<bool> waiting = consumer.WaitToReadAsync(cancel.Token);
        await ParkedAsync(ring);
        Assert.False(waiting.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting.AsTask().WaitAsync(s_wait));

        Assert.False(consumer.TryRead(new byte[8], TimeSpan.FromMilliseconds(50), CancellationToken.None, out int length));
        Assert.Equal(0, length);
        Assert.True(producer.TryWrite([1, 2, 3]));
        Assert.True(await consumer.WaitToReadAsync().AsTask().WaitAsync(s_wait));
    }

    [Fact]
    public async Task A_handle_disposed_under_a_parked_async_read_ends_it_with_ObjectDisposedException_and_nothing_reads_unmapped_memory()
    {
        var ring = SharedRing.Create(_segments.NewName("disposed"), new RingOptions { Capacity = 4096 });
        RingConsumer consumer = ring.CreateConsumer();
        consumer.SpinBeforeParking = TimeSpan.Zero;

        Task<int> reading = consumer.ReadAsync(new byte[16]).AsTask();
        await ParkedAsync(ring);
        consumer.Dispose();
        ring.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => reading.WaitAsync(s_wait));
    }

    [Fact]
    public async Task A_ring_disposed_by_the_continuation_of_an_awaited_read_is_removed_when_its_last_dispose_returns()
    {
        // The continuation runs on the reactor thread that completed the park when that was the process's only park, else
        // on the thread pool; either way the reactor has let go of the park first, so the dispose there is the mapping's
        // last user, and detaches (and removes) the segment before it returns, not later on the reactor thread.
        string name = _segments.NewName("detach");
        var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        RingConsumer consumer = ring.CreateConsumer();
        RingProducer producer = ring.CreateProducer();
        consumer.SpinBeforeParking = TimeSpan.Zero;
        using var producerGone = new ManualResetEventSlim();
        Task<(string? Thread, bool Left)> reading = Task.Run(async () =>
        {
            Assert.Equal(3, await consumer.ReadAsync(new byte[16]));
            string? thread = Thread.CurrentThread.Name;
            Assert.True(producerGone.Wait(s_wait));
            consumer.Dispose();
            ring.Dispose();
            return (thread, File.Exists(TestSegments.ShmPath(name)));
        });
        await ParkedAsync(ring);
        Assert.True(producer.TryWrite([1, 2, 3]));
        producer.Dispose();
        producerGone.Set();

        (string? thread, bool left) = await reading.WaitAsync(s_wait);
        Assert.False(left, $"{name} was still there when its last handle's dispose returned (on thread '{thread}')");
    }

    [Fact]
    public async Task A_ring_disposed_by_the_continuation_of_a_cancelled_awaited_read_is_removed_when_its_last_dispose_returns()
    {
        // A cancelled park completes only once its reactor has dropped it and let go: the dispose in the continuation is
        // the mapping's last user, as after a completed park.
        string name = _segments.NewName("detach-cancelled");
        var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        RingConsumer consumer = ring.CreateConsumer();
        ring.CreateProducer().Dispose();
        consumer.SpinBeforeParking = TimeSpan.Zero;
        using var cancellation = new CancellationTokenSource();
        Task<bool> reading = Task.Run(async () =>
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await consumer.ReadAsync(new byte[16], cancellation.Token));
            consumer.Dispose();
            ring.Dispose();
            return File.Exists(TestSegments.ShmPath(name));
        });
        await ParkedAsync(ring);
        await cancellation.CancelAsync();

        Assert.False(await reading.WaitAsync(s_wait), $"{name} was still there when its last handle's dispose returned");
    }

    [Fact]
    public void A_continuation_run_on_a_reactor_thread_that_blocks_there_holds_up_no_other_parked_wait()
    {
        string prefix = _segments.NewName("inline");
        _segments.Track(Name(prefix, 0));
        _segments.Track(Name(prefix, 1));
        using Peer peer = Peer.Start("async-reactor-blocked-continuation", prefix);

        peer.Expect("ran-on Membrane futex reactor 0"); // its wait was the reactor's only park: no second thread's wake
        peer.Expect("second completed"); // placed on another reactor thread while the first ran the blocked continuation
        peer.Expect("reactor-threads 2");
        Assert.Equal(0, peer.Finish());
    }

    /// <summary>Waits until the ring's consumer has announced its park (the flag the producer reads before waking it).</summary>
    private static async Task ParkedAsync(SharedRing ring)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        while (WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ConsumerWaitingOffset))) == 0)
        {
            await Task.Yield();
            timeout.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// A peer creates <paramref name="count"/> rings and awaits a read on each; this process writes one message to each.
    /// Returns the threads the peer gained for its pending reads and its reactor threads.
    /// </summary>
    private (int Gained, int ReactorThreads) AwaitManyInAnotherProcess(int count, IReadOnlyDictionary<string, string> environment)
    {
        string prefix = _segments.NewName("many");
        for (int i = 0; i < count; i++)
        {
            _segments.Track(Name(prefix, i));
        }
        using Peer awaiting = Peer.StartWith(environment, "async-ring-await-many", prefix, count.ToString(CultureInfo.InvariantCulture));
        awaiting.Expect("created");
        var rings = new SharedRing[count];
        var producers = new RingProducer[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                rings[i] = SharedRing.Open(Name(prefix, i));
                producers[i] = rings[i].CreateProducer();
            }
            string[] parked = (awaiting.ReadLine() ?? "").Split(' ');
            Assert.True(parked is ["parked", _, _, _], $"expected \"parked THREADS REACTOR CPU\", got \"{string.Join(' ', parked)}\"; stderr: {awaiting.Stderr}");
            for (int i = 0; i < count; i++)
            {
                Assert.True(producers[i].TryWrite(BitConverter.GetBytes((long)i)));
            }
            awaiting.Expect(string.Create(CultureInfo.InvariantCulture, $"received {count}"));
            Assert.Equal(0, awaiting.Finish());
            return (int.Parse(parked[1], CultureInfo.InvariantCulture), int.Parse(parked[2], CultureInfo.InvariantCulture));
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
