namespace Membrane.Journals;

/// <summary>What a gap of <see cref="JournalWriter.AppendGap"/> stands for, as its readers report it.</summary>
public enum JournalGap
{
    /// <summary>Entries lost: readers count them in <see cref="JournalRecord.LostBefore"/>, as entries they were lapped past.</summary>
    Lost = 0,

    /// <summary>Entries never written (a dead writer's holes): readers count them in <see cref="JournalRecord.AbortedBefore"/>.</summary>
    Aborted = 1,
}
