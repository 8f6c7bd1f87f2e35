using System.Globalization;
using System.Text.Json;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>
/// Segments in a directory other than /dev/shm: <c>MEMBRANE_DIR</c> for a whole process (library and CLI alike) and
/// <see cref="SegmentOptions.Directory"/> for one call, on a tmpfs of the test's own (as a container's shared volume).
/// </summary>
[Collection(nameof(GarbageCollectionTests))] // lists segments: kept apart from the tests that add foreign files
public sealed class SegmentDirectoryTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Membrane_dir_puts_the_writers_journal_there_where_ls_and_rm_find_it_and_leaves_dev_shm_alone()
    {
        using var tmpfs = TestMount.Tmpfs("dir-cli", 64 << 20);
        string journal = _segments.NewName("dir-journal");
        var environment = new Dictionary<string, string> { [SegmentName.DirectoryVariable] = tmpfs.Path };

        (int written, _, string writerErrors) = Peer.RunCliWith(environment, "writer", "--journal", journal, "--count", "1000", "--capacity", "1024");
        Assert.True(written == 0, writerErrors);

        Assert.True(File.Exists(Path.Combine(tmpfs.Path, journal)));
        Assert.False(File.Exists(TestSegments.ShmPath(journal)));
        (int listed, string there, string listErrors) = Peer.RunCliWith(environment, "ls", "--json");
        Assert.True(listed == 0, listErrors);
        JsonElement row = JsonDocument.Parse(there).RootElement.EnumerateArray().Single();
        Assert.Equal(journal, row.GetProperty("name").GetString());
        Assert.Equal("journal", row.GetProperty("kind").GetString());
        (_, string inDevShm, _) = Peer.RunCli("ls", "--json");
        Assert.DoesNotContain(JsonDocument.Parse(inDevShm).RootElement.EnumerateArray(), e => e.GetProperty("name").GetString() == journal);

        string csv = Path.Combine(_segments.NewDirectory("dir-csv"), "out.csv");
        (int reported, _, string reportErrors) = Peer.RunCliWith(environment, "reporter", "--journal", journal, "--id", "0", "--out", csv, "--until-idle", "0.2");
        Assert.True(reported == 0, reportErrors);
        Assert.Equal(1000, File.ReadLines(csv).Count(l => l.Length > 0 && char.IsAsciiDigit(l[0])));

        (int removed, _, string removeErrors) = Peer.RunCliWith(environment, "rm", journal);
        Assert.True(removed == 0, removeErrors);
        Assert.Empty(Directory.GetFileSystemEntries(tmpfs.Path));
    }

    [Fact]
    public void SegmentOptions_Directory_is_where_a_process_with_that_MEMBRANE_DIR_attaches()
    {
        using var tmpfs = TestMount.Tmpfs("dir-options", 16 << 20);
        string name = _segments.NewName("dir-options");
        var options = new SegmentOptions { Directory = tmpfs.Path };

        using var segment = SharedSegment.Create(name, 4096, options);
        using var peer = Peer.StartWith(new Dictionary<string, string> { [SegmentName.DirectoryVariable] = tmpfs.Path }, "attach", name);
        peer.Expect("attached");

        string path = Path.Combine(tmpfs.Path, name);
        Assert.Equal(path, segment.Name);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
        Assert.Equal(2, SegmentCatalog.Inspect(path, SegmentBacking.File).LiveProcesses);
        using (var second = SharedSegment.Open(name, options))
        {
            Assert.Equal(path, second.Name);
        }
        Assert.Throws<SegmentNotFoundException>(() => SharedSegment.Open(name));
    }

    [Fact]
    public void A_full_segment_directory_is_an_insufficient_memory_error_naming_it_and_leaves_nothing_behind()
    {
        using var tmpfs = TestMount.Tmpfs("dir-full", 1 << 20);
        string name = _segments.NewName("dir-full");

        var error = Assert.Throws<InsufficientSharedMemoryException>(
            () => SharedSegment.Create(name, 4 << 20, new SegmentOptions { Directory = tmpfs.Path }));

        Assert.Contains(tmpfs.Path, error.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(tmpfs.Path, name), error.SegmentName);
        Assert.Contains("bytes free", error.Found, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(tmpfs.Path));
    }

    [Fact]
    public void A_relative_directory_is_refused_and_a_missing_one_is_named()
    {
        string name = _segments.NewName("dir-bad");

        var relative = Assert.Throws<InvalidSegmentNameException>(
            () => SharedSegment.Create(name, 64, new SegmentOptions { Directory = "segments" }));
        Assert.Contains("absolute", relative.Message, StringComparison.Ordinal);

        string missing = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"{name}-missing"));
        var notFound = Assert.Throws<SegmentNotFoundException>(
            () => SharedSegment.Create(name, 64, new SegmentOptions { Directory = missing }));
        Assert.Contains(missing, notFound.Message, StringComparison.Ordinal);

        (int exitCode, _, string stderr) = Peer.RunCliWith(new Dictionary<string, string> { [SegmentName.DirectoryVariable] = "relative/dir" }, "ls");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("absolute", stderr, StringComparison.Ordinal);
    }
}
