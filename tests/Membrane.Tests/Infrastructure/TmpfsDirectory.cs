using System.Globalization;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// A tmpfs of its own, mounted on a fresh directory for one test and unmounted (with everything in it) afterwards:
/// a segment directory like /dev/shm, with a size limit a test can fill. Mounting needs root, as CI runs.
/// </summary>
internal sealed class TmpfsDirectory : IDisposable
{
    private static int s_counter;

    internal TmpfsDirectory(string purpose, long sizeBytes)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(),
            string.Create(CultureInfo.InvariantCulture, $"{TestSegments.RunPrefix}{Interlocked.Increment(ref s_counter)}-{purpose}"));
        Directory.CreateDirectory(Path);
        try
        {
            Run("mount", "-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={sizeBytes},mode=0700"), "tmpfs", Path);
        }
        catch
        {
            Directory.Delete(Path);
            throw;
        }
    }

    /// <summary>The mount point.</summary>
    internal string Path { get; }

    public void Dispose()
    {
        Run("umount", Path);
        Directory.Delete(Path);
    }

    private static void Run(string program, params string[] arguments) =>
        ExternalCommand.Succeed(program, arguments, TimeSpan.FromSeconds(30)); // root is needed, as CI runs
}
