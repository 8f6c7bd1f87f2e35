namespace Membrane.Segments;

/// <summary>
/// How a process maps a segment: what it pays at open so that the first lap of a ring or journal does not pay it a
/// page at a time. Each process chooses for its own mapping; none of it is recorded in the segment.
/// </summary>
[Flags]
public enum SegmentMapping
{
    /// <summary>Pages are faulted in as they are first touched (a minor fault each, the first time round).</summary>
    Default = 0,

    /// <summary>Every page is faulted in at open (<c>MAP_POPULATE</c>): open takes longer, the first lap runs at full speed.</summary>
    Prefault = 1,

    /// <summary>
    /// The pages are locked in memory (<c>mlock</c>) for as long as the segment is mapped: never swapped or reclaimed.
    /// Needs the segment's size within RLIMIT_MEMLOCK (<c>ulimit -l</c>) or CAP_IPC_LOCK; implies faulting every page in.
    /// </summary>
    LockInMemory = 2,
}
