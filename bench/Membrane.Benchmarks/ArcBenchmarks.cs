using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace Membrane.Benchmarks;

/// <summary>A 64-byte value, the size the Read target names.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Value64
{
    public long A, B, C, D, E, F, G, H;
}

/// <summary>
/// Uncontended costs of IpcArc beside the baseline a .NET user would otherwise reach for: a named
/// <see cref="Mutex"/>, which .NET on Linux also keeps in shared memory so that it works across processes.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes them, and benchmark classes must stay unsealed.")]
public class ArcBenchmarks
{
    private readonly string _name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-arc-{Environment.ProcessId}");
    private IpcArc<Value64>? _arc;
    private Mutex? _mutex;

    [GlobalSetup]
    public void Setup()
    {
        _arc = IpcArc<Value64>.Create(_name, default);
        _mutex = new Mutex(initiallyOwned: false, _name);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _arc?.Dispose();
        _arc = null;
        _mutex?.Dispose();
        _mutex = null;
    }

    [Benchmark(Baseline = true, Description = "named Mutex WaitOne+ReleaseMutex")]
    public void NamedMutexLockUnlock()
    {
        _mutex!.WaitOne();
        _mutex.ReleaseMutex();
    }

    [Benchmark(Description = "IpcArc Lock+Dispose")]
    public void ArcLockUnlock()
    {
        using IpcArcGuard<Value64> guard = _arc!.Lock();
    }

    [Benchmark(Description = "IpcArc Lock, increment, Dispose")]
    public long ArcLockIncrement()
    {
        using IpcArcGuard<Value64> guard = _arc!.Lock();
        return ++guard.Value.A;
    }

    [Benchmark(Description = "IpcArc Read (64-byte T)")]
    public Value64 ArcRead() => _arc!.Read(); // the whole copy, so the JIT cannot skip any of it
}
