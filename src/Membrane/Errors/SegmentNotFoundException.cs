namespace Membrane.Errors;

/// <summary>No segment of that name exists (or it was removed while being opened).</summary>
public sealed class SegmentNotFoundException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentNotFoundException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
