using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Tests.Segments;

public sealed class MultiProcessSegmentTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Two_processes_see_each_others_writes()
    {
        string name = _segments.NewName("exchange");
        using var segment = SharedSegment.Create(name, 64);
        Volatile.Write(ref MemoryMarshal.AsRef<long>(segment.Payload), 41);

        using var peer = Peer.Start("exchange", name);
        peer.Expect("read 41");
        peer.Expect("written");

        Assert.Equal(42, Volatile.Read(ref MemoryMarshal.AsRef<long>(segment.Payload[8..])));
        Assert.Equal(0, peer.Finish());
    }

    [Fact]
    public void Open_or_create_from_racing_processes_yields_one_segment()
    {
        string name = _segments.NewName("race");
        var peers = Enumerable.Range(0, 6).Select(_ => Peer.Start("open-or-create-increment", name)).ToList();
        try
        {
            peers.ForEach(p => p.Expect("ready"));
            peers.ForEach(p => p.Send("go"));
            peers.ForEach(p => p.Expect("done"));

            using var segment = SharedSegment.Open(name);
            Assert.Equal(6, Volatile.Read(ref MemoryMarshal.AsRef<long>(segment.Payload)));
            Assert.Equal(7, segment.CountAttached(out _));
        }
        finally
        {
            peers.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public void Creator_killed_during_initialisation_leaves_the_name_free_and_its_file_marked_as_its_creation()
    {
        string name = _segments.NewName("abandoned");
        using var creator = Peer.Start("create-and-hang", name);
        _segments.TrackCreationsBy(creator.Pid);
        creator.Expect("initialising");
        creator.KillHard();

        Assert.Throws<SegmentNotFoundException>(() => SharedSegment.Open(name));
        SegmentInfo debris = SegmentCatalog.List().Single(s => s.Name.StartsWith(TestSegments.CreationPrefix(creator.Pid), StringComparison.Ordinal));
        Assert.True(debris.InCreation);
        Assert.Equal(creator.Pid, debris.Creator.Pid);
        Assert.Equal("abandoned creation", debris.Status);
        Assert.True(debris.IsGarbage);
    }

    [Fact]
    public void Open_or_create_repairs_a_segment_whose_creator_died_during_initialisation()
    {
        string name = _segments.NewName("repair");
        using (var creator = Peer.Start("create-and-hang", name))
        {
            _segments.TrackCreationsBy(creator.Pid);
            creator.Expect("initialising");
            creator.KillHard();
        }

        using var segment = SharedSegment.OpenOrCreate(name, 64);

        Assert.Equal(ProcessIdentity.Current, segment.Creator);
        Assert.Equal(SegmentState.Ready, SegmentCatalog.Inspect(name).State);
    }

    [Fact]
    public void A_segment_being_created_is_invisible_under_its_name_and_never_taken_for_debris()
    {
        string name = _segments.NewName("stalled");
        using var creator = Peer.Start("create-and-hang", name);
        _segments.TrackCreationsBy(creator.Pid);
        creator.Expect("initialising");

        Assert.Throws<SegmentNotFoundException>(() => SharedSegment.Open(name));
        SegmentInfo building = SegmentCatalog.List().Single(s => s.Name.StartsWith(TestSegments.CreationPrefix(creator.Pid), StringComparison.Ordinal));
        Assert.Equal("being created", building.Status);
        Assert.False(building.IsGarbage);
        using var ours = SharedSegment.Create(name, 64); // the name is free: the live creator will find it taken, not us
        Assert.Equal(ProcessIdentity.Current, ours.Creator);
    }

    [Fact]
    public void Process_table_tells_a_killed_process_from_a_live_one()
    {
        string name = _segments.NewName("liveness");
        using var segment = SharedSegment.Create(name, 64);
        using var survivor = Peer.Start("attach", name);
        using var victim = Peer.Start("attach", name);
        survivor.Expect("attached");
        victim.Expect("attached");
        int victimPid = victim.Pid;
        victim.KillHard();

        IReadOnlyList<AttachedProcess> processes = SegmentCatalog.Inspect(name).Processes;

        Assert.False(processes.Single(p => p.Process.Pid == victimPid).IsAlive);
        Assert.True(processes.Single(p => p.Process.Pid == survivor.Pid).IsAlive);
        Assert.Equal(2, segment.CountAttached(out _));
    }

    [Fact]
    public void A_killed_attacher_does_not_keep_a_remove_when_unused_segment_alive()
    {
        string name = _segments.NewName("dead-holder");
        var segment = SharedSegment.Create(name, 64, new SegmentOptions { RemoveWhenUnused = true });
        using (var peer = Peer.Start("attach", name))
        {
            peer.Expect("attached");
            peer.KillHard();
        }

        segment.Dispose();

        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void A_table_full_of_dead_processes_still_admits_a_new_one()
    {
        string name = _segments.NewName("slot-reuse");
        SharedSegment.Create(name, 64).Dispose();
        using (var victim = Peer.Start("attach", name))
        {
            victim.Expect("attached");
            victim.KillHard();
        }
        // Copy the dead process's slot over every slot: a table that crashed processes filled.
        byte[] header = File.ReadAllBytes(TestSegments.ShmPath(name))[..L.Size];
        byte[] deadSlot = header.AsSpan(L.ProcessTableOffset, L.ProcessSlotSize).ToArray();
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            HeaderPoke.Write(name, L.ProcessTableOffset + (slot * L.ProcessSlotSize), deadSlot);
        }

        using var peer = Peer.Start("attach", name);
        peer.Expect("attached");

        SegmentInfo info = SegmentCatalog.Inspect(name);
        Assert.Equal(L.ProcessSlotCount, info.Processes.Count);
        Assert.Equal(peer.Pid, Assert.Single(info.Processes, p => p.IsAlive).Process.Pid);
    }
}
