namespace Membrane.Errors;

/// <summary>A fixed-size table in the segment (attached processes, reader cursors) has no free slot.</summary>
public sealed class CapacityExhaustedException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public CapacityExhaustedException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
