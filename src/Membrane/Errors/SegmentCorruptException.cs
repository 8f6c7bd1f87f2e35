namespace Membrane.Errors;

/// <summary>The segment's header or shared structures hold values no correct Membrane process writes.</summary>
public sealed class SegmentCorruptException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentCorruptException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
