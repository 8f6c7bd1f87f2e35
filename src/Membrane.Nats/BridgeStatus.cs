namespace Membrane.Nats;

/// <summary>A bridge's progress, as a snapshot.</summary>
/// <param name="Entries">Entries carried: acknowledged by the server (out), appended to the far journal (in).</param>
/// <param name="Lag">Entries behind: in the near journal, not yet acknowledged (out); in the stream, not yet delivered (in).</param>
/// <param name="Gaps">Sequences carried as gaps (lost or aborted on the near side, or missing from the stream).</param>
/// <param name="Duplicates">Messages dropped as already carried: acknowledged as duplicates by the server (out), or at or below what the far journal holds (in).</param>
/// <param name="Resyncs">Times the bridge started again from what the stream (out) or the far journal (in) holds, after a server or connection failure.</param>
/// <param name="NextSequence">The next near sequence to carry.</param>
public readonly record struct BridgeStatus(long Entries, long Lag, long Gaps, long Duplicates, long Resyncs, long NextSequence);
