using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Tests.Segments;

public sealed class SharedSegmentTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public unsafe void A_removed_segment_refuses_every_later_attach_even_once_its_remover_is_gone()
    {
        string name = _segments.NewName("removed-for-good");
        using var segment = SharedSegment.Create(name, 64);

        SegmentCatalog.Remove(name, force: true);

        // A process that opened the file before the unlink must not attach after it: nobody else could find the segment.
        var table = new ProcessTable(segment.HeaderPointer, segment.Descriptor, name);
        Assert.Equal(-1, table.Attach(ProcessIdentity.Current, name));
        Assert.Null(table.RemovalClaimant);
    }

    [Fact]
    public void Create_then_open_map_the_same_bytes()
    {
        string name = _segments.NewName("same-bytes");
        using var created = SharedSegment.Create(name, 100);
        using var opened = SharedSegment.Open(name);

        created.Payload[10] = 42;

        Assert.Equal(42, opened.Payload[10]);
        Assert.Equal(SegmentKind.Raw, opened.Kind);
        Assert.Equal(4096, opened.PayloadLength); // rounded up to whole pages
        Assert.Equal(ProcessIdentity.Current, opened.Creator);
    }

    [Fact]
    public void Create_fails_when_the_name_exists_and_names_it()
    {
        string name = _segments.NewName("exists");
        using var first = SharedSegment.Create(name, 64);

        var error = Assert.Throws<SegmentAlreadyExistsException>(() => SharedSegment.Create(name, 64));

        Assert.Equal(name, error.SegmentName);
        Assert.Equal("EEXIST", error.ErrnoName);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_fails_when_the_name_is_missing_and_names_it()
    {
        string name = _segments.NewName("missing");

        var error = Assert.Throws<SegmentNotFoundException>(() => SharedSegment.Open(name));

        Assert.Equal(name, error.SegmentName);
        Assert.Equal("ENOENT", error.ErrnoName);
    }

    [Fact]
    public void Open_or_create_creates_once_then_opens()
    {
        string name = _segments.NewName("open-or-create");
        using var first = SharedSegment.OpenOrCreate(name, 64);
        first.Payload[0] = 7;

        using var second = SharedSegment.OpenOrCreate(name, 64);

        Assert.Equal(7, second.Payload[0]);
    }

    [Fact]
    public void Open_or_create_refuses_an_existing_segment_smaller_than_asked()
    {
        string name = _segments.NewName("too-small");
        using var first = SharedSegment.Create(name, 64);

        var error = Assert.Throws<SegmentLayoutMismatchException>(() => SharedSegment.OpenOrCreate(name, 1 << 20));

        Assert.Contains("1,048,576", error.Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void A_full_dev_shm_is_a_clear_error_at_creation_and_leaves_nothing_behind()
    {
        string name = _segments.NewName("full");
        long moreThanTheMachineHas = 1L << 40;

        var error = Assert.Throws<InsufficientSharedMemoryException>(() => SharedSegment.Create(name, moreThanTheMachineHas));

        Assert.Equal("ENOSPC", error.ErrnoName);
        Assert.Contains("/dev/shm", error.Message, StringComparison.Ordinal);
        Assert.Contains("bytes free", error.Found, StringComparison.Ordinal);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Default_mode_is_owner_only_whatever_the_umask()
    {
        string name = _segments.NewName("mode-default");
        using var segment = SharedSegment.Create(name, 64);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Mode_option_is_applied_exactly_for_sharing_across_users()
    {
        string name = _segments.NewName("mode-shared");
        const UnixFileMode Shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
            | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        using var segment = SharedSegment.Create(name, 64, new SegmentOptions { Mode = Shared });

        Assert.Equal(Shared, File.GetUnixFileMode(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void File_backed_segment_keeps_its_contents_after_every_handle_closed()
    {
        string path = _segments.NewFilePath("file-backed");
        var options = new SegmentOptions { Backing = SegmentBacking.File };
        using (var segment = SharedSegment.Create(path, 64, options))
        {
            MemoryMarshal.Write(segment.Payload, 0x5EED_F00DL);
            segment.Flush();
        }

        using var reopened = SharedSegment.Open(path, options);

        Assert.Equal(0x5EED_F00DL, MemoryMarshal.Read<long>(reopened.Payload));
        Assert.Equal(L.TotalSizeFor(64), new FileInfo(path).Length);
    }

    [Fact]
    public void Anonymous_segment_has_no_name_in_dev_shm()
    {
        string label = _segments.NewName("anonymous");
        using var segment = SharedSegment.CreateAnonymous(label, 64);
        segment.Payload[0] = 1;

        Assert.False(File.Exists(TestSegments.ShmPath(label)));
        Assert.Equal(1, segment.Payload[0]);
    }

    [Fact]
    public void Remove_when_unused_removes_the_segment_when_the_last_handle_detaches()
    {
        string name = _segments.NewName("remove-when-unused");
        var first = SharedSegment.Create(name, 64, new SegmentOptions { RemoveWhenUnused = true });
        var second = SharedSegment.Open(name);

        first.Dispose();
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        second.Dispose();

        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Without_remove_when_unused_the_segment_outlives_its_handles()
    {
        string name = _segments.NewName("persistent");
        SharedSegment.Create(name, 64).Dispose();

        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        Assert.Equal("persistent", SegmentCatalog.Inspect(name).Status);
    }

    [Fact]
    public void Handles_in_one_process_share_one_slot_and_count_references()
    {
        string name = _segments.NewName("one-slot");
        using var first = SharedSegment.Create(name, 64);
        using var second = SharedSegment.Open(name);

        Assert.Equal(1, first.CountAttached(out int references));
        Assert.Equal(2, references);
        AttachedProcess me = Assert.Single(first.AttachedProcesses());
        Assert.Equal(ProcessIdentity.Current, me.Process);
    }

    [Fact]
    public void A_disposed_segment_refuses_access()
    {
        var segment = SharedSegment.Create(_segments.NewName("disposed"), 64);
        segment.Dispose();

        Assert.Throws<ObjectDisposedException>(() => segment.Payload.Length);
    }

    [Fact]
    public void A_foreign_file_is_rejected_naming_the_magic_found()
    {
        string name = _segments.NewName("foreign");
        byte[] bytes = new byte[8192];
        "NOTOURS!"u8.CopyTo(bytes);
        File.WriteAllBytes(TestSegments.ShmPath(name), bytes);

        var error = Assert.Throws<ForeignSegmentException>(() => SharedSegment.Open(name));

        Assert.Contains("MEMBRANE", error.Expected, StringComparison.Ordinal);
        Assert.Contains("magic 0x21", error.Found, StringComparison.Ordinal); // "!SRUOTON" read little-endian
    }

    [Fact]
    public void A_file_smaller_than_a_header_is_rejected_naming_its_size()
    {
        string name = _segments.NewName("tiny");
        File.WriteAllBytes(TestSegments.ShmPath(name), new byte[100]);

        var error = Assert.Throws<ForeignSegmentException>(() => SharedSegment.Open(name));

        Assert.Equal("a file of 100 bytes", error.Found);
    }

    [Fact]
    public void Another_layout_version_is_rejected_naming_both_versions()
    {
        string name = _segments.NewName("version");
        SharedSegment.Create(name, 64).Dispose();
        HeaderPoke.WriteUInt16(name, L.LayoutVersionOffset, 99);

        var error = Assert.Throws<SegmentLayoutMismatchException>(() => SharedSegment.Open(name));

        Assert.Equal($"layout version {SegmentHeaderLayout.LayoutVersion}", error.Expected);
        Assert.Equal("layout version 99", error.Found);
    }

    [Fact]
    public void A_total_size_that_disagrees_with_the_file_is_reported_as_corrupt()
    {
        string name = _segments.NewName("corrupt-size");
        SharedSegment.Create(name, 64).Dispose();
        HeaderPoke.WriteInt64(name, L.TotalSizeOffset, 1 << 30);

        var error = Assert.Throws<SegmentCorruptException>(() => SharedSegment.Open(name));

        Assert.Contains("total size", error.Message, StringComparison.Ordinal);
        Assert.Equal("8192", error.Expected);
        Assert.Equal("1073741824", error.Found);
    }

    [Fact]
    public void Opening_as_another_kind_is_rejected_naming_both_kinds()
    {
        string name = _segments.NewName("kind");
        using var raw = SharedSegment.Create(name, 64);

        var error = Assert.Throws<SegmentLayoutMismatchException>(() =>
            SharedSegment.Open(name, new PayloadSpec(SegmentKind.Journal, TypeFingerprint.None), SegmentOptions.Default));

        Assert.Equal("a Journal segment", error.Expected);
        Assert.Equal("a Raw segment", error.Found);
    }
}
