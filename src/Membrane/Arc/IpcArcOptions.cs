namespace Membrane;

/// <summary>How an <see cref="IpcArc{T}"/> segment is created and opened.</summary>
public sealed record IpcArcOptions
{
    /// <summary>
    /// Permission bits of the segment, applied exactly. Owner read/write (0600) by default; add group or other bits
    /// to share the value across users.
    /// </summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>How long opening waits for a creator that is still initialising the value.</summary>
    public TimeSpan InitialisationTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
