using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>gc scans all of /dev/shm; these run alone so that no other test's segment is caught mid-way.</summary>
[CollectionDefinition(nameof(GarbageCollectionTests), DisableParallelization = true)]
public sealed class RunsAlone;

[Collection(nameof(GarbageCollectionTests))]
public sealed class GarbageCollectionTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Gc_removes_a_segment_whose_attached_processes_all_died()
    {
        string name = _segments.NewName("gc-dead");
        SharedSegment.Create(name, 64).Dispose();
        using (var peer = Peer.Start("attach", name))
        {
            peer.Expect("attached");
            peer.KillHard();
        }

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Equal(name, Assert.Single(removed).Name);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Gc_leaves_a_segment_that_a_live_process_holds()
    {
        string name = _segments.NewName("gc-live");
        SharedSegment.Create(name, 64).Dispose();
        using var peer = Peer.Start("attach", name);
        peer.Expect("attached");

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Empty(removed);
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        Assert.Equal(0, peer.Finish());
    }

    [Fact]
    public void Gc_removes_a_segment_whose_creator_died_during_initialisation()
    {
        string name = _segments.NewName("gc-abandoned");
        using (var creator = Peer.Start("create-and-hang", name))
        {
            creator.Expect("initialising");
            creator.KillHard();
        }
        Assert.Equal("abandoned", SegmentCatalog.Inspect(name).Status);

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Single(removed);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Gc_leaves_a_creation_that_a_live_creator_is_still_working_on()
    {
        string name = _segments.NewName("gc-initialising");
        using var creator = Peer.Start("create-and-hang", name);
        creator.Expect("initialising");

        Assert.Empty(SegmentCatalog.CollectGarbage(namePrefix: name));
        Assert.Equal("initialising", SegmentCatalog.Inspect(name).Status);
    }

    [Fact]
    public void Gc_dry_run_lists_without_removing()
    {
        string name = _segments.NewName("gc-dry");
        SharedSegment.Create(name, 64).Dispose();

        Assert.Single(SegmentCatalog.CollectGarbage(dryRun: true, namePrefix: name));
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
    }
}
