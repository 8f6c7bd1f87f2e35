namespace Membrane.Journals;

/// <summary>What the writer does when the ring is full of entries a reader has not consumed.</summary>
public enum OverrunPolicy
{
    /// <summary>
    /// The writer never waits: it overwrites the oldest entry. A reader that was lapped is told exactly how many
    /// entries it lost and continues from the oldest entry still there; it never receives a torn one.
    /// </summary>
    Overwrite = 0,

    /// <summary>
    /// Lossless: the writer waits for the slowest registered cursor (committed position). A reader that attached once
    /// stays registered until its cursor is removed, so a crashed reader holds the writer until it comes back.
    /// </summary>
    Block = 1,
}
