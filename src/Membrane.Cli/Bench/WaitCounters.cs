using System.Diagnostics.Metrics;
using Membrane.Diagnostics;

namespace Membrane.Cli.Bench;

/// <summary>
/// Counts, in this process, the times Membrane parked a waiter in the kernel and woke one (its <c>membrane.parks</c> and
/// <c>membrane.wakes</c> counters), from construction on. A transport meant to spin should show next to none: a run
/// whose latency sits far above the floor and whose parks are one a message has gone to sleep where it should not.
/// </summary>
internal sealed class WaitCounters : IDisposable
{
    private const string ParksName = "membrane.parks";
    private const string WakesName = "membrane.wakes";
    private readonly MeterListener _listener = new();
    private long _parks;
    private long _wakes;

    internal WaitCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MembraneMetrics.MeterName && instrument.Name is ParksName or WakesName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            Interlocked.Add(ref instrument.Name == ParksName ? ref _parks : ref _wakes, value));
        _listener.Start();
    }

    internal long Parks => Interlocked.Read(ref _parks);

    internal long Wakes => Interlocked.Read(ref _wakes);

    public void Dispose() => _listener.Dispose();
}
