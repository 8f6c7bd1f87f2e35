using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Membrane.Journals;
using Membrane.Segments;

namespace Membrane.Benchmarks;

/// <summary>
/// The first lap's page faults: a journal of 64 MiB (1,048,576 slots of 48 bytes), just created, filled once by its
/// writer. Without <see cref="SegmentMapping.Prefault"/> every 4 KiB page costs a fault the first time it is written;
/// with it they were all mapped at creation (the setup, not measured here: what creation costs is beside it), and with
/// <see cref="SegmentMapping.LockInMemory"/> they are locked too. The second lap of the same journal is the floor.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 15, invocationCount: 1)]
public class FirstLapBenchmarks
{
    private const long Slots = 1 << 20;
    private readonly string _name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-lap-{Environment.ProcessId}");
    private readonly byte[] _entry = new byte[48];
    private Journal? _journal;
    private JournalWriter? _writer;

    /// <summary>How the writer's process maps the journal.</summary>
    [Params(SegmentMapping.Default, SegmentMapping.Prefault, SegmentMapping.LockInMemory)]
    public SegmentMapping Mapping { get; set; }

    [IterationSetup(Target = nameof(FirstLap))]
    public void CreateFresh() => Create();

    [IterationSetup(Target = nameof(SecondLap))]
    public void CreateAndFillOnce()
    {
        Create();
        FirstLap();
    }

    [IterationCleanup]
    public void Remove()
    {
        _writer?.Dispose();
        _journal?.Dispose();
        SharedSegment.Remove(_name);
    }

    [Benchmark(Description = "first lap of a new 64 MiB journal")]
    public long FirstLap()
    {
        for (long i = 0; i < Slots; i++)
        {
            _writer!.Append(_entry);
        }
        return _journal!.WritePosition;
    }

    [Benchmark(Baseline = true, Description = "second lap (every page mapped)")]
    public long SecondLap() => FirstLap();

    [Benchmark(Description = "Journal.Create of 64 MiB")]
    public long Create()
    {
        _journal = Journal.Create(_name, new JournalOptions { Capacity = Slots, SlotSize = 48, Cursors = 1, Mapping = Mapping });
        _writer = _journal.CreateWriter();
        return _journal.Capacity;
    }
}
