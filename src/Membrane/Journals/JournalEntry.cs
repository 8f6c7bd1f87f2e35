namespace Membrane.Journals;

/// <summary>One entry as <see cref="JournalReader.ReadAllAsync"/> delivers it.</summary>
/// <param name="Sequence">The entry's sequence number (0, 1, 2, ... for the journal's whole life).</param>
/// <param name="LostBefore">
/// Entries overwritten before this reader could read them, just before this one (as <see cref="JournalRecord.LostBefore"/>).
/// </param>
/// <param name="Data">
/// The entry's bytes, copied out of the journal into a buffer of the enumeration's, which the next entry overwrites:
/// valid until the loop moves on. Copy what must live longer.
/// </param>
/// <param name="AbortedBefore">Holes skipped just before this one (many writers only: <see cref="JournalRecord.AbortedBefore"/>).</param>
public readonly record struct JournalEntry(long Sequence, long LostBefore, ReadOnlyMemory<byte> Data, long AbortedBefore = 0);
