namespace Membrane.Segments;

/// <summary>Behaviour recorded in the header at creation, so that every process follows it.</summary>
[Flags]
internal enum SegmentFlags : uint
{
    None = 0,

    /// <summary>The last process to detach removes the segment.</summary>
    RemoveWhenUnused = 1,
}
