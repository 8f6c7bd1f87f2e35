namespace Membrane.Segments;

/// <summary>What a segment holds; stored in its header so that nobody opens a journal as a ring.</summary>
public enum SegmentKind : ushort
{
    /// <summary>Not recorded (a header that is not initialised).</summary>
    None = 0,

    /// <summary>Raw bytes: a <see cref="SharedSegment"/> whose payload the application lays out itself.</summary>
    Raw = 1,

    /// <summary>An <c>IpcArc&lt;T&gt;</c>: a reference-counted value with a robust lock.</summary>
    Arc = 2,

    /// <summary>A journal: one writer, many readers with persisted cursors.</summary>
    Journal = 3,

    /// <summary>A shared ring: an SPSC channel of variable-size messages.</summary>
    Ring = 4,

    /// <summary>A write-once, read-only blob.</summary>
    WriteOnce = 5,

    /// <summary>A shared queue: many producers, one consumer, variable-size messages.</summary>
    Queue = 6,
}
