using System.Globalization;
using BenchmarkDotNet.Attributes;
using Membrane.Rings;

namespace Membrane.Benchmarks;

/// <summary>
/// In-process costs of the ring's zero-copy path, producer and consumer on one thread (so no cache line moves
/// between cores): what reserve/commit and read/release themselves cost, apart from the transfer between processes
/// that <c>membrane bench</c> measures.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes them, and benchmark classes must stay unsealed.")]
public class RingBenchmarks
{
    private const int Burst = 16;
    private readonly string _name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-ring-{Environment.ProcessId}");
    private SharedRing? _ring;
    private RingProducer? _producer;
    private RingConsumer? _consumer;

    [Params(64, 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ring = SharedRing.Create(_name, new RingOptions { Capacity = 1 << 20 });
        _producer = _ring.CreateProducer();
        _consumer = _ring.CreateConsumer();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _producer?.Dispose();
        _consumer?.Dispose();
        _ring?.Dispose();
    }

    /// <summary>One message: reserve, fill its first bytes, commit and publish; read it in place and release.</summary>
    [Benchmark]
    public int ReserveCommitReadRelease()
    {
        _producer!.TryReserve(Size, out Span<byte> room);
        room[0] = 1;
        _producer.Commit(Size);
        _consumer!.TryRead(out RingLease lease);
        int first = lease.Message[0];
        lease.Dispose();
        return first;
    }

    /// <summary>A burst of 16 published once and released once: the cost per message when publication is batched.</summary>
    [Benchmark(OperationsPerInvoke = Burst)]
    public int BurstOf16()
    {
        for (int i = 0; i < Burst; i++)
        {
            _producer!.TryReserve(Size, out Span<byte> room);
            room[0] = (byte)i;
            _producer.Commit(Size, publish: false);
        }
        _producer!.Publish();
        int sum = 0;
        for (int i = 0; i < Burst; i++)
        {
            _consumer!.TryRead(out RingLease lease);
            sum += lease.Message[0];
            lease.Release(publish: i == Burst - 1);
        }
        return sum;
    }
}
