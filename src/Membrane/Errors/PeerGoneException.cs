namespace Membrane;

/// <summary>The process at the other end went away (closed its end, or died) and nothing more will come from it.</summary>
public sealed class PeerGoneException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public PeerGoneException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
