namespace Membrane.Errors;

/// <summary>The process at the other end went away (closed its end, or died) and nothing more will come from it.</summary>
public sealed class PeerGoneException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public PeerGoneException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }

    /// <summary>
    /// True when the peer closed its end (its <c>Dispose</c> or <c>Complete</c>): the stream ended as it should, and
    /// everything it published was delivered. False when its process died or its socket hung up.
    /// </summary>
    public bool ClosedNormally { get; init; }
}
