namespace Membrane.Errors;

/// <summary>A system call failed for a reason none of the more specific exceptions describes.</summary>
public sealed class NativeCallException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public NativeCallException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
