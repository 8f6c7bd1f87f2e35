using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>gc scans all of /dev/shm; these run alone so that no other test's segment is caught mid-way.</summary>
[CollectionDefinition(nameof(GarbageCollectionTests), DisableParallelization = true)]
public sealed class RunsAlone;

[Collection(nameof(GarbageCollectionTests))]
public sealed class GarbageCollectionTests : IDisposable
{
    private static readonly SegmentOptions s_removeWhenUnused = new() { RemoveWhenUnused = true };
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Gc_removes_a_remove_when_unused_segment_whose_attached_processes_all_died()
    {
        string name = _segments.NewName("gc-dead");
        AttachedPeerKilled(name); // the last process attached: nobody is left to remove it
        Assert.Equal("unused", SegmentCatalog.Inspect(name).Status);

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Equal(name, Assert.Single(removed).Name);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Gc_leaves_a_segment_that_a_live_process_holds()
    {
        string name = _segments.NewName("gc-live");
        using Peer peer = WithPeerAttached(name);

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Empty(removed);
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        Assert.Equal(0, peer.Finish());
    }

    [Fact]
    public void Gc_leaves_a_journal_whose_processes_all_exited_and_include_journals_removes_it()
    {
        string name = _segments.NewName("gc-journal");
        using (var journal = global::Membrane.Journals.Journal.Create(name))
        {
            using JournalWriter writer = journal.CreateWriter();
            writer.Append([1, 2, 3]);
            using JournalReader reader = journal.OpenReader("reporter");
            Assert.True(reader.TryRead(new byte[journal.SlotSize], out _));
            reader.Commit();
        }
        Assert.Equal("persistent", SegmentCatalog.Inspect(name).Status);

        Assert.Empty(SegmentCatalog.CollectGarbage(namePrefix: name));
        using (var reopened = global::Membrane.Journals.Journal.Open(name))
        {
            Assert.Equal(1, reopened.WritePosition);
            Assert.Equal(1, reopened.Cursors().Single(c => c.Name == "reporter").CommittedPosition);
        }

        Assert.Equal(name, Assert.Single(SegmentCatalog.CollectGarbage(namePrefix: name, includePersistent: true)).Name);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Gc_removes_what_a_creator_killed_during_initialisation_left()
    {
        string name = _segments.NewName("gc-abandoned");
        string creation;
        using (var creator = Peer.Start("create-and-hang", name))
        {
            creation = _segments.TrackCreationsBy(creator.Pid);
            creator.Expect("initialising");
            creator.KillHard();
        }

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: creation);

        Assert.True(Assert.Single(removed).InCreation);
        Assert.Empty(Directory.GetFiles(SegmentName.SharedMemoryDirectory, creation + "*"));
    }

    [Fact]
    public void Gc_leaves_a_creation_that_a_live_creator_is_still_working_on()
    {
        string name = _segments.NewName("gc-initialising");
        using var creator = Peer.Start("create-and-hang", name);
        string creation = _segments.TrackCreationsBy(creator.Pid);
        creator.Expect("initialising");

        Assert.Empty(SegmentCatalog.CollectGarbage(namePrefix: creation));
        Assert.Single(Directory.GetFiles(SegmentName.SharedMemoryDirectory, creation + "*"));
    }

    [Fact]
    public void Gc_dry_run_lists_without_removing()
    {
        string name = _segments.NewName("gc-dry");
        AttachedPeerKilled(name);

        Assert.Single(SegmentCatalog.CollectGarbage(dryRun: true, namePrefix: name));
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
    }

    /// <summary>Creates a remove-when-unused segment, lets a peer attach, detaches, then kills the peer: garbage left behind.</summary>
    private static void AttachedPeerKilled(string name)
    {
        using Peer peer = WithPeerAttached(name);
        peer.KillHard();
    }

    private static Peer WithPeerAttached(string name)
    {
        using var segment = SharedSegment.Create(name, 64, s_removeWhenUnused);
        var peer = Peer.Start("attach", name);
        peer.Expect("attached");
        return peer;
    }
}
