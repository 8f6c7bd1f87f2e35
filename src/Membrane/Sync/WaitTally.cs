using Membrane.Diagnostics;

namespace Membrane.Sync;

/// <summary>
/// Where one side of a shared structure counts what its waiting cost: the process's <see cref="MembraneMetrics"/>
/// (tagged with the segment) and, where the layout keeps them, two counters in the segment itself — the parks of this
/// side and the wakes it sent — on a cache line only its side writes, so that <c>membrane stat</c> can read them from
/// outside any process. Counted only on the slow paths: a park or a wake is a system call anyway.
/// </summary>
internal sealed unsafe class WaitTally
{
    private readonly KeyValuePair<string, object?> _metricTag;
    private readonly long* _parks;
    private readonly long* _wakes;

    /// <summary>Counts into the metrics only (a structure whose layout has no room for counters).</summary>
    internal WaitTally(KeyValuePair<string, object?> metricTag)
        : this(metricTag, 0, 0)
    {
    }

    /// <summary>Counts into the metrics and the two shared counters at <paramref name="parks"/> and <paramref name="wakes"/>.</summary>
    internal WaitTally(KeyValuePair<string, object?> metricTag, nint parks, nint wakes)
    {
        _metricTag = metricTag;
        _parks = (long*)parks;
        _wakes = (long*)wakes;
    }

    /// <summary>This side is about to sleep in the kernel.</summary>
    internal void Parked()
    {
        MembraneMetrics.Parks.Add(1, _metricTag);
        if (_parks is not null)
        {
            // Interlocked: several processes may share a side (a queue's producers). Nothing pairs with it: stat only reads.
            Interlocked.Increment(ref *_parks);
        }
    }

    /// <summary>This side woke the other one.</summary>
    internal void Woke()
    {
        MembraneMetrics.Wakes.Add(1, _metricTag);
        if (_wakes is not null)
        {
            Interlocked.Increment(ref *_wakes);
        }
    }
}
