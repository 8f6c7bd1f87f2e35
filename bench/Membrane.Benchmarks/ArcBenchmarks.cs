using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Membrane.Arcs;
using Membrane.Native;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Benchmarks;

/// <summary>A 64-byte value, the size the Read target names.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Value64
{
    public long A, B, C, D, E, F, G, H;
}

/// <summary>
/// Uncontended costs of IpcArc beside its floor, the bare robust process-shared pthread mutex it is built on (locked
/// and unlocked through the same interop, with nothing around it), and beside what a .NET user would otherwise reach
/// for: a named <see cref="Mutex"/>, which .NET on Linux also keeps in shared memory so that it works across processes.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes them, and benchmark classes must stay unsealed.")]
public class ArcBenchmarks
{
    private readonly string _name = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-arc-{Environment.ProcessId}");
    private IpcArc<Value64>? _arc;
    private Mutex? _mutex;
    private SharedSegment? _bareSegment;
    private unsafe void* _bareMutex;

    [GlobalSetup]
    public unsafe void Setup()
    {
        _arc = IpcArc<Value64>.Create(_name, default);
        _mutex = new Mutex(initiallyOwned: false, _name);
        // The bare mutex lives in a shared segment too, initialised as IpcArc's is (robust, process-shared, normal type).
        _bareSegment = SharedSegment.Create(_name + "-bare", Interop.PThreadMutexReservedSize, new SegmentOptions { RemoveWhenUnused = true });
        _bareMutex = Unsafe.AsPointer(ref _bareSegment.Payload[0]);
        new RobustMutex(_bareMutex, _bareSegment.Name).Initialise();
    }

    [GlobalCleanup]
    public unsafe void Cleanup()
    {
        _arc?.Dispose();
        _arc = null;
        _mutex?.Dispose();
        _mutex = null;
        _bareSegment?.Dispose();
        _bareSegment = null;
        _bareMutex = null;
    }

    /// <summary>The floor: pthread_mutex_trylock and pthread_mutex_unlock, the two calls an uncontended Lock and Dispose make.</summary>
    [Benchmark(Baseline = true, Description = "bare robust pthread_mutex trylock+unlock")]
    public unsafe int BareRobustMutexLockUnlock()
    {
        int locked = Interop.PThreadMutexTryLock(_bareMutex);
        return locked | Interop.PThreadMutexUnlock(_bareMutex);
    }

    [Benchmark(Description = "named Mutex WaitOne+ReleaseMutex")]
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
