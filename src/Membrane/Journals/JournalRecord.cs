namespace Membrane.Journals;

/// <summary>What one read delivered.</summary>
/// <param name="Sequence">The entry's sequence number (0, 1, 2, ... for the journal's whole life).</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="LostBefore">
/// Entries overwritten before this reader could read them, just before this one (Overwrite policy only): with
/// <paramref name="AbortedBefore"/>, the sequences <c>Sequence - LostBefore - AbortedBefore</c> to <c>Sequence - 1</c>
/// went undelivered (with one writer, <paramref name="AbortedBefore"/> is always 0).
/// </param>
/// <param name="AbortedBefore">
/// Many writers only: sequences just before this one that were claimed by a writer that died before completing them
/// (holes, never written whole), skipped. Their bytes never existed as an entry: they are not lost data.
/// </param>
public readonly record struct JournalRecord(long Sequence, int Length, long LostBefore, long AbortedBefore = 0);
