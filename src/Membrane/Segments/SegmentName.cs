using System.Text;
using Membrane.Errors;

namespace Membrane.Segments;

/// <summary>
/// Validates names before the operating system sees them, so that a bad name is a clear error of ours rather than
/// an EINVAL. A shared-memory name is one path component of /dev/shm: 1 to 255 bytes of UTF-8, no '/', no control
/// characters, not "." or "..". A single leading '/' (the POSIX spelling) is accepted and dropped.
/// </summary>
public static class SegmentName
{
    /// <summary>NAME_MAX: the longest file name /dev/shm holds, in bytes.</summary>
    public const int MaxLength = 255;

    /// <summary>The directory in which glibc keeps named POSIX shared memory.</summary>
    public const string SharedMemoryDirectory = "/dev/shm";

    /// <summary>The environment variable that moves every named segment of a process (library and CLI) to another directory.</summary>
    public const string DirectoryVariable = "MEMBRANE_DIR";

    private static readonly Lazy<string> s_directory = new(() => ResolveDirectory(Environment.GetEnvironmentVariable(DirectoryVariable)));

    /// <summary>
    /// The directory that named segments live in: <c>$MEMBRANE_DIR</c> when it is set (read once, at first use), else
    /// <see cref="SharedMemoryDirectory"/>. Any directory works; a tmpfs keeps the segments in memory as /dev/shm does
    /// (a container's shared volume, a size limit of its own, a place for one group of processes). Every process that
    /// shares a segment must see the same directory.
    /// </summary>
    public static string Directory => s_directory.Value;

    /// <summary>
    /// An absolute directory path, without a trailing '/', from <paramref name="directory"/> (null or empty: the
    /// default). A relative path is refused: two processes with different working directories would not meet.
    /// </summary>
    internal static string ResolveDirectory(string? directory)
    {
        if (string.IsNullOrEmpty(directory))
        {
            return SharedMemoryDirectory;
        }
        return !Path.IsPathFullyQualified(directory) || directory.Contains('\0', StringComparison.Ordinal)
            ? throw new InvalidSegmentNameException("Not a valid segment directory: it must be an absolute path.", directory,
                expected: "an absolute directory path (MEMBRANE_DIR or SegmentOptions.Directory)", found: directory)
            : directory.Length > 1 ? directory.TrimEnd('/') : directory;
    }

    /// <summary>Returns the name in canonical form (no leading '/'), or throws <see cref="InvalidSegmentNameException"/>.</summary>
    public static string Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string bare = name.StartsWith('/') ? name[1..] : name;
        string? problem = bare switch
        {
            "" => "it is empty",
            "." or ".." => "it is a directory reference",
            _ when bare.Contains('/', StringComparison.Ordinal) => "it contains '/'",
            _ when bare.Any(char.IsControl) => "it contains a control character",
            _ when Encoding.UTF8.GetByteCount(bare) > MaxLength => $"it is {Encoding.UTF8.GetByteCount(bare)} bytes long",
            _ => null,
        };
        return problem is null
            ? bare
            : throw new InvalidSegmentNameException(
                $"Not a valid segment name: {problem}.", name,
                expected: $"1 to {MaxLength} bytes of UTF-8 without '/' or control characters");
    }

    /// <summary>Validates a backing-file path: absolute or relative, but naming a file, not a directory.</summary>
    internal static string ValidatePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.Length == 0 || path.EndsWith('/') || path.Contains('\0', StringComparison.Ordinal)
            ? throw new InvalidSegmentNameException("Not a valid segment file path.", path, expected: "a path naming a file")
            : path;
    }
}
