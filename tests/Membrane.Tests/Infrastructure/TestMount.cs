using System.Globalization;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// A file system of its own, mounted on a fresh directory for one test and unmounted (with everything in it)
/// afterwards: a tmpfs with a size limit a test can fill, or a hugetlbfs of 2 MiB pages, each a segment directory as
/// /dev/shm is. Mounting (and reserving huge pages) needs root, as CI runs.
/// </summary>
internal sealed class TestMount : IDisposable
{
    private const string HugePagesSetting = "/proc/sys/vm/nr_hugepages";
    private static int s_counter;
    private readonly long? _hugePagesBefore;

    private TestMount(string purpose, string type, string options, long? hugePagesBefore)
    {
        _hugePagesBefore = hugePagesBefore;
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(),
            string.Create(CultureInfo.InvariantCulture, $"{TestSegments.RunPrefix}{Interlocked.Increment(ref s_counter)}-{purpose}"));
        Directory.CreateDirectory(Path);
        try
        {
            Run("mount", "-t", type, "-o", options, type, Path);
        }
        catch
        {
            Directory.Delete(Path);
            RestoreHugePages();
            throw;
        }
    }

    /// <summary>The mount point.</summary>
    internal string Path { get; }

    /// <summary>A tmpfs of <paramref name="sizeBytes"/>.</summary>
    internal static TestMount Tmpfs(string purpose, long sizeBytes) =>
        new(purpose, "tmpfs", string.Create(CultureInfo.InvariantCulture, $"size={sizeBytes},mode=0700"), hugePagesBefore: null);

    /// <summary>
    /// A hugetlbfs of 2 MiB pages, with at least <paramref name="pages"/> huge pages reserved in the kernel's pool
    /// for it (the pool is put back as it was afterwards).
    /// </summary>
    internal static TestMount Hugetlbfs(string purpose, int pages)
    {
        long before = long.Parse(File.ReadAllText(HugePagesSetting).Trim(), CultureInfo.InvariantCulture);
        File.WriteAllText(HugePagesSetting, (before + pages).ToString(CultureInfo.InvariantCulture));
        return new(purpose, "hugetlbfs", "pagesize=2M,mode=0700", before);
    }

    public void Dispose()
    {
        Run("umount", Path);
        Directory.Delete(Path);
        RestoreHugePages();
    }

    private void RestoreHugePages()
    {
        if (_hugePagesBefore is long before)
        {
            File.WriteAllText(HugePagesSetting, before.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void Run(string program, params string[] arguments) =>
        ExternalCommand.Succeed(program, arguments, TimeSpan.FromSeconds(30));
}
