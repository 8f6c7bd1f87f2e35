namespace Membrane.Errors;

/// <summary>The segment's creator died (or stalled) before it finished initialising it, so it cannot be trusted.</summary>
public sealed class SegmentAbandonedException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public SegmentAbandonedException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
