using System.Text;

namespace Membrane.Errors;

/// <summary>
/// The base of every error Membrane raises. It names the segment, what was expected and what was found, and,
/// where the operating system refused, the errno.
/// </summary>
public class MembraneException : Exception
{
    /// <summary>Creates an exception; the message is composed from the parts given.</summary>
    /// <param name="summary">What happened, in one sentence without the details below.</param>
    /// <param name="segmentName">The segment concerned, if any.</param>
    /// <param name="expected">What Membrane expected to find.</param>
    /// <param name="found">What it found instead.</param>
    /// <param name="errno">The errno the operating system returned, if it refused.</param>
    /// <param name="innerException">The cause, if any.</param>
    public MembraneException(
        string summary,
        string? segmentName = null,
        string? expected = null,
        string? found = null,
        int? errno = null,
        Exception? innerException = null)
        : base(Compose(summary, segmentName, expected, found, errno), innerException)
    {
        SegmentName = segmentName;
        Expected = expected;
        Found = found;
        Errno = errno;
    }

    /// <summary>The segment concerned, or null when the error concerns none.</summary>
    public string? SegmentName { get; }

    /// <summary>What Membrane expected (a version, a type, a size), or null.</summary>
    public string? Expected { get; }

    /// <summary>What it found instead, or null.</summary>
    public string? Found { get; }

    /// <summary>The errno of a refused system call, or null.</summary>
    public int? Errno { get; }

    /// <summary>The C name of <see cref="Errno"/> (for example ENOSPC), or null.</summary>
    public string? ErrnoName => Errno is int errno ? Native.Interop.ErrnoName(errno) : null;

    private static string Compose(string summary, string? segmentName, string? expected, string? found, int? errno)
    {
        var text = new StringBuilder();
        if (segmentName is not null)
        {
            text.Append("Segment '").Append(segmentName).Append("': ");
        }
        text.Append(summary);
        if (expected is not null)
        {
            text.Append(" Expected: ").Append(expected).Append('.');
        }
        if (found is not null)
        {
            text.Append(" Found: ").Append(found).Append('.');
        }
        if (errno is int e)
        {
            text.Append(" (").Append(Native.Interop.ErrnoName(e)).Append(": ").Append(Native.Interop.ErrnoText(e)).Append(')');
        }
        return text.ToString();
    }
}
