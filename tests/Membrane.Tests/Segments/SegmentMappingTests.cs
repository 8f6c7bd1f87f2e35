using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>
/// <see cref="SegmentMapping"/> (pages faulted in or locked at open) and huge pages from a hugetlbfs directory, as the
/// kernel itself reports this process's mappings.
/// </summary>
[Collection(nameof(GarbageCollectionTests))] // mounts, and reserves huge pages: run alone
public sealed class SegmentMappingTests : IDisposable
{
    private const long PayloadBytes = 8 << 20;
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Prefault_maps_every_page_in_at_open_and_LockInMemory_locks_them()
    {
        string name = _segments.NewName("mapping-prefault");
        string path = TestSegments.ShmPath(name);
        using var created = SharedSegment.Create(name, PayloadBytes);
        long segmentKb = (SegmentHeaderLayout.Size + PayloadBytes) / 1024;

        IReadOnlyList<MemoryMaps.Mapping> before = MemoryMaps.Of(path);
        using var plain = SharedSegment.Open(name);
        MemoryMaps.Mapping lazy = MemoryMaps.New(path, before);
        before = MemoryMaps.Of(path);
        using var prefaulted = SharedSegment.Open(name, new SegmentOptions { Mapping = SegmentMapping.Prefault });
        MemoryMaps.Mapping populated = MemoryMaps.New(path, before);
        before = MemoryMaps.Of(path);
        using var locked = SharedSegment.Open(name, new SegmentOptions { Mapping = SegmentMapping.LockInMemory });
        MemoryMaps.Mapping pinned = MemoryMaps.New(path, before);

        Assert.True(lazy.ResidentKb < segmentKb / 8, $"a plain open made {lazy.ResidentKb} of {segmentKb} KiB resident");
        Assert.False(lazy.Locked);
        Assert.Equal(segmentKb, populated.ResidentKb);
        Assert.False(populated.Locked);
        Assert.Equal(segmentKb, pinned.ResidentKb);
        Assert.True(pinned.Locked);
    }

    [Fact]
    public void LockInMemory_beyond_the_memlock_limit_fails_naming_the_limit_and_leaves_the_segment_usable()
    {
        string name = _segments.NewName("mapping-memlock");
        using var segment = SharedSegment.Create(name, PayloadBytes);

        // A process that may lock 1 MiB and lacks CAP_IPC_LOCK (root's way past the limit), as a service under a default ulimit.
        using Peer limited = Peer.StartUnder(["prlimit", "--memlock=1048576:1048576", "setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"],
            "attach-locked", name);
        string? said = limited.ReadLine();

        Assert.StartsWith("error NativeCallException", said, StringComparison.Ordinal);
        Assert.Contains(name, said, StringComparison.Ordinal);
        Assert.Contains("RLIMIT_MEMLOCK", said, StringComparison.Ordinal);
        Assert.Contains("ENOMEM", said, StringComparison.Ordinal);
        limited.WaitForExit();
        Assert.Equal(1, SegmentCatalog.Inspect(name).LiveProcesses); // it detached: nothing of it is left attached
    }

    [Fact]
    public void A_journal_created_and_opened_with_Prefault_is_resident_in_both_handles()
    {
        string name = _segments.NewName("mapping-journal");
        string path = TestSegments.ShmPath(name);

        IReadOnlyList<MemoryMaps.Mapping> before = MemoryMaps.Of(path);
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 1 << 16, SlotSize = 64, Mapping = SegmentMapping.Prefault });
        MemoryMaps.Mapping creator = MemoryMaps.New(path, before);
        before = MemoryMaps.Of(path);
        using var opened = Membrane.Journals.Journal.Open(name, SegmentMapping.Prefault);
        MemoryMaps.Mapping opener = MemoryMaps.New(path, before);

        Assert.Equal(creator.SizeKb, creator.ResidentKb);
        Assert.Equal(opener.SizeKb, opener.ResidentKb);
    }

    [Fact]
    public void A_segment_in_a_hugetlbfs_directory_is_in_huge_pages_shared_across_processes_and_unmapped_whole()
    {
        using var huge = TestMount.Hugetlbfs("mapping-huge", pages: 16);
        string name = _segments.NewName("mapping-huge");
        string path = Path.Combine(huge.Path, name);
        var options = new SegmentOptions { Directory = huge.Path };

        using (var segment = SharedSegment.Create(name, 3 << 20, options))
        {
            MemoryMaps.Mapping mapping = Assert.Single(MemoryMaps.Of(path));
            Assert.Equal(2048, mapping.PageSizeKb);
            Assert.Equal(4 << 10, mapping.SizeKb); // 3 MiB and a 4 KiB header, in whole 2 MiB pages
            segment.Payload[(3 << 20) - 1] = 42;
            using var peer = Peer.StartWith(new Dictionary<string, string> { [SegmentName.DirectoryVariable] = huge.Path }, "attach", name);
            peer.Expect("attached");
            Assert.Equal(2, SegmentCatalog.Inspect(path, SegmentBacking.File).LiveProcesses);
            using var second = SharedSegment.Open(name, options);
            Assert.Equal(42, second.Payload[(3 << 20) - 1]);
        }

        Assert.Empty(MemoryMaps.Of(path)); // munmap took the whole huge pages: a length short of them is refused
        SharedSegment.Remove(path, SegmentBacking.File);
        Assert.Empty(Directory.GetFileSystemEntries(huge.Path));
    }

    [Fact]
    public void A_journal_in_a_hugetlbfs_directory_carries_every_entry_from_a_writer_process_to_a_reporter_process()
    {
        using var huge = TestMount.Hugetlbfs("mapping-huge-journal", pages: 8);
        string journal = _segments.NewName("mapping-huge-journal");
        var environment = new Dictionary<string, string> { [SegmentName.DirectoryVariable] = huge.Path };
        string csv = Path.Combine(_segments.NewDirectory("mapping-huge-csv"), "out.csv");

        (int written, _, string writerErrors) = Peer.RunCliWith(environment, "writer", "--journal", journal, "--count", "1000", "--capacity", "4096");
        (int reported, _, string reportErrors) = Peer.RunCliWith(environment, "reporter", "--journal", journal, "--id", "0", "--out", csv, "--until-idle", "0.2");

        Assert.True(written == 0, writerErrors);
        Assert.True(reported == 0, reportErrors);
        Assert.Equal(1000, File.ReadLines(csv).Count(l => l.Length > 0 && char.IsAsciiDigit(l[0])));
        Assert.Equal(0, new FileInfo(Path.Combine(huge.Path, journal)).Length % (2 << 20)); // whole huge pages
        Assert.Equal(0, Peer.RunCliWith(environment, "rm", journal).ExitCode);
    }
}
