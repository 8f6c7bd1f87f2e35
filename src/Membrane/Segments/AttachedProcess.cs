namespace Membrane.Segments;

/// <summary>One row of a segment's process table, as seen at one moment.</summary>
/// <param name="Process">Who attached.</param>
/// <param name="References">How many handles that process holds on the segment.</param>
/// <param name="IsAlive">Whether that very process (pid and start time) is still running.</param>
public readonly record struct AttachedProcess(ProcessIdentity Process, int References, bool IsAlive);
