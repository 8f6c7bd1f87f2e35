namespace Membrane.Errors;

/// <summary>A segment of that name exists already and the call was to create one.</summary>
public sealed class SegmentAlreadyExistsException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentAlreadyExistsException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
