namespace Membrane.Errors;

/// <summary>A peer process wrote something into shared memory that breaks the protocol; nothing it wrote was used.</summary>
public sealed class PeerViolationException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public PeerViolationException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
