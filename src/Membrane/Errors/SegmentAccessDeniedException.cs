namespace Membrane.Errors;

/// <summary>The operating system refused access to the segment (permissions or ownership).</summary>
public sealed class SegmentAccessDeniedException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentAccessDeniedException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
