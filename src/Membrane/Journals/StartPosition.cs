namespace Membrane.Journals;

/// <summary>Where a reader begins.</summary>
public enum StartPosition
{
    /// <summary>At the cursor's persisted (committed) position; for a cursor never used before, at the oldest entry.</summary>
    Persisted = 0,

    /// <summary>At the oldest entry still in the ring (late-join catch-up).</summary>
    Oldest = 1,

    /// <summary>At the next entry to be written: only what comes from now on.</summary>
    Newest = 2,
}
