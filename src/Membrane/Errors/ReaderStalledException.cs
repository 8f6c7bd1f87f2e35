namespace Membrane.Errors;

/// <summary>
/// Under the Block overrun policy, a writer waited longer than its timeout for the slowest registered reader. The
/// message names the cursor, its position and whether the process attached to it is alive.
/// </summary>
public sealed class ReaderStalledException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public ReaderStalledException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
