namespace Membrane.Journals;

/// <summary>How many writers a journal takes at once. Fixed at creation and recorded in the segment.</summary>
public enum JournalWriters
{
    /// <summary>
    /// One writer at a time (a second live one is refused). Appending is wait-free and costs no atomic instruction; a
    /// writer that died is replaced by the next, which continues the sequence with no gap.
    /// </summary>
    One = 0,

    /// <summary>
    /// Up to <see cref="JournalOptions.MaxWriters"/> writers at once, in any processes (one <see cref="JournalWriter"/>
    /// per thread). Each append claims its sequence with one CAS; readers still see one total order. A writer that
    /// died between claiming a sequence and completing it leaves a hole that readers skip as aborted
    /// (<see cref="JournalRecord.AbortedBefore"/>) once they find its writer dead: never a torn entry.
    /// </summary>
    Many = 1,
}
