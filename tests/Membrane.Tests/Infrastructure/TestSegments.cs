using System.Globalization;
using Membrane.Segments;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// Unique segment names for one test, and their removal afterwards whatever happened: a test class holds one and
/// disposes it (xunit disposes the class after each test). Names start with "mbt-" and carry the pid.
/// </summary>
internal sealed class TestSegments : IDisposable
{
    private static int s_counter;
    private readonly List<(string Name, SegmentBacking Backing)> _created = [];
    private readonly List<string> _directories = [];
    private readonly List<int> _creators = [];

    /// <summary>The prefix every name this test run makes starts with.</summary>
    internal static string RunPrefix { get; } = string.Create(CultureInfo.InvariantCulture, $"mbt-{Environment.ProcessId}-");

    internal string NewName(string purpose)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"{RunPrefix}{Interlocked.Increment(ref s_counter)}-{purpose}");
        _created.Add((name, SegmentBacking.SharedMemory));
        return name;
    }

    /// <summary>Removes <paramref name="name"/> afterwards too (a segment whose name derives from one of ours).</summary>
    internal string Track(string name)
    {
        _created.Add((name, SegmentBacking.SharedMemory));
        return name;
    }

    /// <summary>A path for a file-backed segment, in a directory of its own removed afterwards.</summary>
    internal string NewFilePath(string purpose)
    {
        string directory = Path.Combine(Path.GetTempPath(), NewName(purpose));
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "segment");
        _created.Add((path, SegmentBacking.File));
        return path;
    }

    /// <summary>An empty directory of its own (for CSV files and the like), removed afterwards.</summary>
    internal string NewDirectory(string purpose)
    {
        string directory = Path.Combine(Path.GetTempPath(), NewName(purpose));
        Directory.CreateDirectory(directory);
        _directories.Add(directory);
        return directory;
    }

    /// <summary>
    /// Removes afterwards whatever process <paramref name="pid"/> left half-built under a creation name (a peer a test
    /// kills while it creates). Returns the prefix of those names.
    /// </summary>
    internal string TrackCreationsBy(int pid)
    {
        _creators.Add(pid);
        return CreationPrefix(pid);
    }

    /// <summary>What the creation names of process <paramref name="pid"/> start with.</summary>
    internal static string CreationPrefix(int pid) => string.Create(CultureInfo.InvariantCulture, $"{SegmentFiles.CreationPrefix}{pid}-");

    /// <summary>The creation files process <paramref name="pid"/> has in /dev/shm now.</summary>
    internal static string[] CreationsBy(int pid) =>
        Directory.GetFiles(SegmentName.SharedMemoryDirectory, CreationPrefix(pid) + "*").Select(Path.GetFileName).ToArray()!;

    internal static string ShmPath(string name) => Path.Combine(SegmentName.SharedMemoryDirectory, name);

    public void Dispose()
    {
        foreach ((string name, SegmentBacking backing) in _created)
        {
            if (backing == SegmentBacking.File)
            {
                Directory.Delete(Path.GetDirectoryName(name)!, recursive: true);
            }
            else
            {
                File.Delete(ShmPath(name));
            }
        }
        foreach (string directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }
        foreach (int pid in _creators)
        {
            foreach (string creation in CreationsBy(pid))
            {
                File.Delete(ShmPath(creation));
            }
        }
    }
}
