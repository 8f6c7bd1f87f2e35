using System.Globalization;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Membrane.Journals;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.Benchmarks;

/// <summary>
/// What an asynchronous wait that parks costs, and that it allocates nothing: a round trip between two tasks of this
/// process over a pair of rings (or journals), each side awaiting the other with no spin, so that every read parks on
/// the futex reactor and is woken by the other side's publication. The memory column counts the whole process, the
/// echoing task included.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes them, and benchmark classes must stay unsealed.")]
public class AsyncBenchmarks
{
    /// <summary>
    /// Round trips per invocation: BenchmarkDotNet's own wait for an asynchronous invocation allocates about 200 B, which
    /// would otherwise be charged to each round trip (with 256 a round trip the column showed 1–2 B: that overhead, shared).
    /// </summary>
    private const int RoundTripsPerInvoke = 1024;

    private readonly string _prefix = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-async-{Environment.ProcessId}");
    private readonly byte[] _message = new byte[64];
    private readonly byte[] _reply = new byte[64];
    private readonly CancellationTokenSource _stop = new();
    private SharedRing? _there;
    private SharedRing? _back;
    private RingProducer? _send;
    private RingConsumer? _receive;
    private Journal? _outgoing;
    private Journal? _incoming;
    private JournalWriter? _append;
    private JournalReader? _follow;
    private Task? _echo;

    [GlobalSetup(Target = nameof(RingRoundTrip))]
    public void SetupRings()
    {
        _there = SharedRing.Create(_prefix + "-there", new RingOptions { Capacity = 1 << 16 });
        _back = SharedRing.Create(_prefix + "-back", new RingOptions { Capacity = 1 << 16 });
        _send = _there.CreateProducer();
        _receive = _back.CreateConsumer();
        _receive.SpinBeforeParking = TimeSpan.Zero;
        RingConsumer echoIn = _there.CreateConsumer();
        RingProducer echoOut = _back.CreateProducer();
        echoIn.SpinBeforeParking = TimeSpan.Zero;
        _echo = Task.Run(async () =>
        {
            byte[] buffer = new byte[64];
            using (echoIn)
            using (echoOut)
            {
                while (!_stop.IsCancellationRequested)
                {
                    int length = await echoIn.ReadAsync(buffer, _stop.Token);
                    await echoOut.WriteAsync(buffer.AsMemory(0, length));
                }
            }
        });
    }

    [GlobalSetup(Target = nameof(JournalRoundTrip))]
    public void SetupJournals()
    {
        _outgoing = Journal.Create(_prefix + "-out", new JournalOptions { Capacity = 1024, SlotSize = 64, Policy = OverrunPolicy.Block });
        _incoming = Journal.Create(_prefix + "-in", new JournalOptions { Capacity = 1024, SlotSize = 64, Policy = OverrunPolicy.Block });
        _append = _outgoing.CreateWriter();
        _follow = _incoming.OpenReader(0, StartPosition.Oldest);
        _follow.SpinBeforeParking = TimeSpan.Zero;
        JournalReader echoIn = _outgoing.OpenReader(0, StartPosition.Oldest);
        JournalWriter echoOut = _incoming.CreateWriter();
        echoIn.SpinBeforeParking = TimeSpan.Zero;
        _echo = Task.Run(async () =>
        {
            byte[] buffer = new byte[64];
            using (echoIn)
            using (echoOut)
            {
                while (!_stop.IsCancellationRequested)
                {
                    JournalRecord record = await echoIn.ReadAsync(buffer, _stop.Token);
                    echoIn.Commit();
                    echoOut.Append(buffer.AsSpan(0, record.Length));
                }
            }
        });
    }

    /// <summary>64 bytes there and back through two rings, both reads parked.</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> RingRoundTrip()
    {
        int received = 0;
        for (int i = 0; i < RoundTripsPerInvoke; i++)
        {
            await _send!.WriteAsync(_message);
            received += await _receive!.ReadAsync(_reply);
        }
        return received;
    }

    /// <summary>64 bytes there and back through two journals, both reads parked.</summary>
    [Benchmark(OperationsPerInvoke = RoundTripsPerInvoke)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> JournalRoundTrip()
    {
        int received = 0;
        for (int i = 0; i < RoundTripsPerInvoke; i++)
        {
            _append!.Append(_message);
            JournalRecord record = await _follow!.ReadAsync(_reply);
            _follow.Commit();
            received += record.Length;
        }
        return received;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        try
        {
            _echo?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException e) when (e.InnerException is OperationCanceledException)
        {
            // the echo was parked when told to stop
        }
        _send?.Dispose();
        _receive?.Dispose();
        _there?.Dispose();
        _back?.Dispose();
        _append?.Dispose();
        _follow?.Dispose();
        _outgoing?.Dispose();
        _incoming?.Dispose();
        if (_outgoing is not null)
        {
            SegmentCatalog.Remove(_prefix + "-out"); // journals outlive their handles
            SegmentCatalog.Remove(_prefix + "-in");
        }
        _stop.Dispose();
    }
}
