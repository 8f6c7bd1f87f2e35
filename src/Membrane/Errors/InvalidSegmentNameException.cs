namespace Membrane.Errors;

/// <summary>A segment name that POSIX shared memory cannot hold (empty, too long, containing '/' or a control character).</summary>
public sealed class InvalidSegmentNameException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public InvalidSegmentNameException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
