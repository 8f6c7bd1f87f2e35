namespace Membrane.Errors;

/// <summary>The shared-memory filesystem (/dev/shm or the backing file's) has no room for the segment.</summary>
public sealed class InsufficientSharedMemoryException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public InsufficientSharedMemoryException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
