namespace Membrane;

/// <summary>What one read delivered.</summary>
/// <param name="Sequence">The entry's sequence number (0, 1, 2, ... for the journal's whole life).</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="LostBefore">
/// Entries overwritten before this reader could read them, just before this one (Overwrite policy only): the
/// sequences <c>Sequence - LostBefore</c> to <c>Sequence - 1</c>.
/// </param>
public readonly record struct JournalRecord(long Sequence, int Length, long LostBefore);
