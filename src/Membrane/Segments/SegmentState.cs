namespace Membrane.Segments;

/// <summary>The life of a segment, as its header's state word records it.</summary>
public enum SegmentState
{
    /// <summary>All zero: the creator has not started writing the header (or died before it did).</summary>
    Blank = 0,

    /// <summary>The creator is writing the header and payload; nobody may trust the segment yet.</summary>
    Initialising = 1,

    /// <summary>Fully initialised and usable.</summary>
    Ready = 2,

    /// <summary>Declared abandoned by a process that found its creator dead during initialisation.</summary>
    Abandoned = 3,
}
