namespace Membrane.Errors;

/// <summary>The segment is attached by live processes, and the operation would pull it from under them.</summary>
public sealed class SegmentInUseException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentInUseException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
