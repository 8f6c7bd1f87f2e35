using Membrane.Errors;

namespace Membrane.Nats;

/// <summary>
/// A bridge cannot go on: the NATS server cannot be reached at start, the stream carries another journal's entries, or
/// the far journal cannot hold what arrives. Names the journal (as the segment), what was expected and what was found.
/// </summary>
public sealed class BridgeException : MembraneException
{
    /// <summary>Creates the exception; the message is composed from the parts given.</summary>
    public BridgeException(string summary, string? journal = null, string? expected = null, string? found = null, Exception? innerException = null)
        : base(summary, journal, expected, found, errno: null, innerException)
    {
    }
}
