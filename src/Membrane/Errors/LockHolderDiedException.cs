namespace Membrane.Errors;

/// <summary>
/// The process holding a shared value's lock died in the middle of changing it, so the value may be half-written.
/// A lock-free read reports it instead of returning the value; the next <c>Lock()</c> sees
/// <c>PreviousOwnerDied</c>, can repair the value, and reads work again once that guard is released.
/// </summary>
public sealed class LockHolderDiedException : MembraneException
{
    /// <summary>Creates the exception; see <see cref="MembraneException"/> for the parts.</summary>
    public LockHolderDiedException(string summary, string? segmentName = null, string? expected = null, string? found = null, int? errno = null, Exception? innerException = null)
        : base(summary, segmentName, expected, found, errno, innerException)
    {
    }
}
