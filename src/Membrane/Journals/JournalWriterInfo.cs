using Membrane.Segments;

namespace Membrane.Journals;

/// <summary>A writer a journal records: the one writer's role, or a slot of a many-writer journal's table.</summary>
/// <param name="Slot">Its slot in the writer table (0 for a journal with one writer).</param>
/// <param name="Holder">The process holding it (alive or not: a dead one's place is taken by the next writer).</param>
/// <param name="Alive">Whether that process is alive.</param>
/// <param name="Claiming">
/// Many writers only: the sequence it is claiming or writing, or last wrote (null when it has claimed none since it took
/// the slot). A dead writer's claim that was never completed is a hole readers skip.
/// </param>
public readonly record struct JournalWriterInfo(int Slot, ProcessIdentity Holder, bool Alive, long? Claiming);
