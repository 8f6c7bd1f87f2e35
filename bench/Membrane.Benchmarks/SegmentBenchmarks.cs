using System.Globalization;
using BenchmarkDotNet.Attributes;
using Membrane.Segments;

namespace Membrane.Benchmarks;

/// <summary>
/// What attaching costs: opening an existing segment (shm_open, fstat, mmap, header checks, process-table slot)
/// and creating one (plus posix_fallocate and removal), beside a plain FileStream open of the same /dev/shm file.
/// </summary>
[MemoryDiagnoser]
public class SegmentBenchmarks
{
    private readonly string _name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-{Environment.ProcessId}");
    private SharedSegment? _held;

    [GlobalSetup]
    public void Setup() => _held = SharedSegment.Create(_name, 4096);

    [GlobalCleanup]
    public void Cleanup()
    {
        _held?.Dispose();
        SharedSegment.Remove(_name);
    }

    [Benchmark(Baseline = true, Description = "FileStream open+close of the /dev/shm file")]
    public long FileStreamOpen()
    {
        using var file = new FileStream(Path.Combine(SegmentName.SharedMemoryDirectory, _name), FileMode.Open, FileAccess.Read);
        return file.Length;
    }

    [Benchmark(Description = "SharedSegment.Open + Dispose")]
    public long OpenAndDetach()
    {
        using SharedSegment segment = SharedSegment.Open(_name);
        return segment.PayloadLength;
    }

    [Benchmark(Description = "SharedSegment.Create + Dispose (removed when unused)")]
    public long CreateAndRemove()
    {
        using SharedSegment segment = SharedSegment.Create(_name + "-c", 4096, new SegmentOptions { RemoveWhenUnused = true });
        return segment.PayloadLength;
    }
}
