namespace Membrane.Errors;

/// <summary>The name refers to something that is not a Membrane segment (no Membrane magic number).</summary>
public sealed class ForeignSegmentException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public ForeignSegmentException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
