namespace Membrane.Errors;

/// <summary>The segment is a Membrane segment, but of another layout version, kind, payload type or size than the caller expects.</summary>
public sealed class SegmentLayoutMismatchException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentLayoutMismatchException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
