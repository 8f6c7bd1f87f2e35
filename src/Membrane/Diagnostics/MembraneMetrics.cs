using System.Diagnostics.Metrics;

namespace Membrane.Diagnostics;

/// <summary>
/// The <c>Membrane</c> meter: counters a host's OpenTelemetry or dotnet-counters can collect. Instruments cost a
/// branch when nobody listens; the hot paths add in batches, not per entry.
/// </summary>
public static class MembraneMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Membrane";

    internal static readonly Meter Meter = new(MeterName);

    /// <summary>Journal entries appended, tagged with the journal's name.</summary>
    internal static readonly Counter<long> JournalAppended = Meter.CreateCounter<long>("membrane.journal.appended", "{entry}", "Entries appended to a journal.");

    /// <summary>Journal entries delivered to readers.</summary>
    internal static readonly Counter<long> JournalRead = Meter.CreateCounter<long>("membrane.journal.read", "{entry}", "Entries delivered to journal readers.");

    /// <summary>Journal entries a lapped reader lost.</summary>
    internal static readonly Counter<long> JournalLost = Meter.CreateCounter<long>("membrane.journal.lost", "{entry}", "Entries overwritten before a reader read them.");

    /// <summary>Messages in parts a ring consumer skipped because their producer died before finishing them.</summary>
    internal static readonly Counter<long> RingAborted = Meter.CreateCounter<long>("membrane.ring.aborted", "{message}", "Messages in parts abandoned by a producer that died.");

    /// <summary>Queue claims skipped because their producer died before committing them.</summary>
    internal static readonly Counter<long> JournalAborted = Meter.CreateCounter<long>("membrane.journal.aborted", "{entry}", "Journal sequences skipped by a reader because their writer died before completing them (many writers).");
    internal static readonly Counter<long> QueueAborted = Meter.CreateCounter<long>("membrane.queue.aborted", "{claim}", "Queue claims abandoned by a producer that died.");

    /// <summary>Times a reader or writer parked on a futex.</summary>
    internal static readonly Counter<long> Parks = Meter.CreateCounter<long>("membrane.parks", "{park}", "Times a waiter parked in the kernel.");

    /// <summary>Times a publisher woke a parked waiter (one system call each): with <see cref="Parks"/>, what waiting cost.</summary>
    internal static readonly Counter<long> Wakes = Meter.CreateCounter<long>("membrane.wakes", "{wake}", "Times a publisher woke a parked waiter.");

    /// <summary>Wakes a ring producer sent ahead of a large message, so that the consumer's core is awake by its commit.</summary>
    internal static readonly Counter<long> HeadsUpWakes = Meter.CreateCounter<long>("membrane.ring.heads_up_wakes", "{wake}", "Wakes a ring producer sent as it reserved a large message.");

    internal static KeyValuePair<string, object?> Tag(string name) => new("membrane.segment", name);
}
