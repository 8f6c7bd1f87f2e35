using System.Diagnostics;
using System.Globalization;
using Membrane.Rings;
using Membrane.Sync;

namespace Membrane.TestPeer;

/// <summary>Verbs that wait asynchronously on many segments at once, to show what those waits cost the process.</summary>
internal static class AsyncVerbs
{
    internal static int Run(string verb, string prefix, string[] rest) => verb switch
    {
        "async-ring-await-many" => AwaitMany(prefix, int.Parse(rest[0], CultureInfo.InvariantCulture)),
        "async-reactor-blocked-continuation" => BlockedContinuation(prefix),
        "async-pipe-write" => WritePipeAsync(prefix, int.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture)).GetAwaiter().GetResult(),
        "async-channel-write" => WriteChannelAsync(prefix, long.Parse(rest[0], CultureInfo.InvariantCulture), complete: rest is not [_, "hang"]).GetAwaiter().GetResult(),
        _ => -1,
    };

    /// <summary>
    /// A continuation that the futex reactor runs on its own thread (the wait was its only park) and that then blocks
    /// there must hold up no other wait. Creates rings <c>PREFIX-0</c> and <c>PREFIX-1</c>; a read parked on the first is
    /// completed by a write, and its continuation blocks; meanwhile a read parked on the second must complete on a write.
    /// Says "ran-on THREAD" (where the first continuation ran), "second completed" (or "second stuck" after 60 s),
    /// "reactor-threads N".
    /// </summary>
    private static int BlockedContinuation(string prefix)
    {
        using var first = SharedRing.Create(Name(prefix, 0), new RingOptions { Capacity = 4096 });
        using var second = SharedRing.Create(Name(prefix, 1), new RingOptions { Capacity = 4096 });
        using RingConsumer firstConsumer = first.CreateConsumer(), secondConsumer = second.CreateConsumer();
        using RingProducer firstProducer = first.CreateProducer(), secondProducer = second.CreateProducer();
        firstConsumer.SpinBeforeParking = TimeSpan.Zero;
        secondConsumer.SpinBeforeParking = TimeSpan.Zero;
        var started = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        // The continuation is in place when ContinueAndBlock returns (it runs to its await at once), before any write.
        Task blocked = ContinueAndBlock(firstConsumer.ReadAsync(new byte[8]), started, release);
        // Parked on the reactor, not merely counted in (a write before the park would let the read finish where it began).
        SpinWait.SpinUntil(() => IsConsumerParked(first) && FutexReactor.Shared?.Threads == 1);
        firstProducer.TryWrite([1]);
        string? ranOn = started.Task.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();

        Task<int> reading = secondConsumer.ReadAsync(new byte[8]).AsTask();
        SpinWait.SpinUntil(() => IsConsumerParked(second) && FutexReactor.Shared?.Threads == 2);
        secondProducer.TryWrite([2]);
        bool completed = reading.Wait(TimeSpan.FromSeconds(60));
        release.Set();
        blocked.Wait();
        Verbs.Say($"ran-on {ranOn}");
        Verbs.Say(completed ? "second completed" : "second stuck");
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"reactor-threads {FutexReactor.Shared?.Threads ?? 0}"));
        return 0;
    }

    private static async Task ContinueAndBlock(ValueTask<int> reading, TaskCompletionSource<string?> started, ManualResetEventSlim release)
    {
        await reading;
        started.SetResult(Thread.CurrentThread.Name);
        release.Wait(TimeSpan.FromSeconds(60)); // blocks whatever thread the continuation runs on
    }

    private static bool IsConsumerParked(SharedRing ring) => WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ConsumerWaitingOffset))) > 0;

    /// <summary>
    /// Creates rings <c>PREFIX-0</c> to <c>PREFIX-(count-1)</c> and says "created"; starts one <c>ReadAsync</c> on each;
    /// once every one is parked says "parked THREADS REACTOR CPU_MS": the threads the process gained for them, the
    /// futex reactor's threads, and the CPU time the process spent in the following idle second. Then expects message
    /// <c>i</c> (an i64) on ring <c>i</c> and says "received N" with the number that came right.
    /// </summary>
    private static int AwaitMany(string prefix, int count)
    {
        var rings = new SharedRing[count];
        var consumers = new RingConsumer[count];
        for (int i = 0; i < count; i++)
        {
            rings[i] = SharedRing.Create(Name(prefix, i), new RingOptions { Capacity = 4096 });
            consumers[i] = rings[i].CreateConsumer();
            consumers[i].SpinBeforeParking = TimeSpan.Zero;
        }
        // A running .NET process has thread-pool workers; count from there, so that what is measured is the waits' cost.
        Task.WaitAll([.. Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(() => Thread.SpinWait(1000)))]);
        Verbs.Say("created");
        int before = Threads();
        var buffers = new byte[count][];
        var reads = new Task<int>[count];
        for (int i = 0; i < count; i++)
        {
            buffers[i] = new byte[8];
            reads[i] = consumers[i].ReadAsync(buffers[i]).AsTask();
        }
        while (!rings.All(IsConsumerParked))
        {
            Thread.Yield();
        }
        int gained = Threads() - before;
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        Thread.Sleep(1000); // the idle second whose CPU time is reported
        double idleMilliseconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"parked {gained} {FutexReactor.Shared?.Threads ?? 0} {idleMilliseconds:F0}"));
        bool all = Task.WaitAll(reads, TimeSpan.FromSeconds(60));
        int right = Enumerable.Range(0, count).Count(i => reads[i].IsCompletedSuccessfully && reads[i].Result == 8 && BitConverter.ToInt64(buffers[i]) == i);
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"received {(all ? right : -1)}"));
        for (int i = 0; i < count; i++)
        {
            consumers[i].Dispose();
            rings[i].Dispose();
        }
        return 0;
    }

    /// <summary>
    /// Writes 0 to <paramref name="count"/>-1 through the ring's producer as a <c>ChannelWriter&lt;long&gt;</c>, then
    /// completes it (or, not <paramref name="complete"/>, says "done" and hangs, to be killed), and says "done N".
    /// </summary>
    private static async Task<int> WriteChannelAsync(string name, long count, bool complete)
    {
        using var ring = SharedRing.Open(name);
        RingProducer producer = ring.CreateProducer();
        System.Threading.Channels.ChannelWriter<long> writer = producer.AsChannelWriter<long>();
        for (long i = 0; i < count; i++)
        {
            await writer.WriteAsync(i);
        }
        if (!complete)
        {
            producer.Publish();
            Verbs.Say("done");
            Thread.Sleep(Timeout.Infinite);
        }
        writer.Complete();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {count}"));
        return 0;
    }

    /// <summary>
    /// Writes <paramref name="frames"/> frames through the ring's producer as a <c>PipeWriter</c>, in pieces of random
    /// sizes (seeded), flushing now and then; completes it and says "done N". A frame is
    /// <c>[length i32 | sequence i64 | payload]</c>, payload byte <c>j</c> being <c>(byte)(sequence * 31 + j)</c>.
    /// </summary>
    private static async Task<int> WritePipeAsync(string name, int frames, int seed)
    {
        using var ring = SharedRing.Open(name);
        System.IO.Pipelines.PipeWriter writer = ring.CreateProducer().AsPipeWriter();
        var random = new Random(seed);
        for (long sequence = 0; sequence < frames; sequence++)
        {
            int length = random.Next(3) == 0 ? random.Next(0, 50_000) : random.Next(0, 300);
            Span<byte> header = writer.GetSpan(12);
            BitConverter.TryWriteBytes(header, length);
            BitConverter.TryWriteBytes(header[4..], sequence);
            writer.Advance(12);
            for (int written = 0; written < length;)
            {
                Span<byte> room = writer.GetSpan(random.Next(1, 20_000));
                int piece = Math.Min(Math.Min(room.Length, length - written), random.Next(1, 30_000));
                for (int j = 0; j < piece; j++)
                {
                    room[j] = (byte)((sequence * 31) + written + j);
                }
                writer.Advance(piece);
                written += piece;
            }
            if (random.Next(4) == 0)
            {
                await writer.FlushAsync();
            }
        }
        await writer.CompleteAsync();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {frames}"));
        return 0;
    }

    internal static string Name(string prefix, int i) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");

    private static int Threads() => Directory.GetDirectories("/proc/self/task").Length;
}
