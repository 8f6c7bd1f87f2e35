namespace Membrane.Sync;

/// <summary>How an attempt to take a <see cref="RobustMutex"/> ended.</summary>
internal enum LockOutcome
{
    /// <summary>Held; the previous holder released it normally.</summary>
    Acquired,

    /// <summary>Held, but the previous holder died holding it: what it protected may be half-written.</summary>
    AcquiredOwnerDied,

    /// <summary>Not held: the timeout passed (or the try found it taken).</summary>
    TimedOut,
}
