using System.Runtime.InteropServices;
using Membrane.Arcs;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Arcs;

[StructLayout(LayoutKind.Sequential)]
public struct Block64
{
    public long A, B, C, D, E, F, G, H;
}

[StructLayout(LayoutKind.Sequential)]
public struct Pair
{
    public int Left;
    public long Right;
}

[StructLayout(LayoutKind.Sequential)]
public struct OtherLayout
{
    public long Left;
    public int Right;
}

public unsafe struct HoldsPointer
{
    public int* Address;
}

public sealed class IpcArcTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Disposing_a_copy_of_a_released_guard_changes_nothing_even_after_the_lock_is_taken_again()
    {
        string name = _segments.NewName("arc-guard-copy");
        using var arc = IpcArc<long>.Create(name, 1);
        using var other = IpcArc<long>.Open(name);
        IpcArcGuard<long> guard = arc.Lock();
        IpcArcGuard<long> copy = guard;
        guard.Dispose();

        using (IpcArcGuard<long> again = arc.Lock())
        {
            again.Value = 5;
            copy.Dispose(); // stale: must neither publish the value being written nor release the lock
            bool takenElsewhere = false;
            var elsewhere = new Thread(() =>
            {
                takenElsewhere = other.TryLock(TimeSpan.Zero, out IpcArcGuard<long> stolen);
                stolen.Dispose();
            });
            elsewhere.Start();
            elsewhere.Join();
            Assert.False(takenElsewhere, "the lock was released by a stale copy of an earlier guard");
            again.Value = 6;
        }

        Assert.Equal(6, other.Read());
    }

    [Fact]
    public void Create_then_open_share_the_value_and_count_references()
    {
        string name = _segments.NewName("arc-basic");
        using var created = IpcArc<long>.Create(name, 77);
        using var opened = IpcArc<long>.Open(name);

        using (IpcArcGuard<long> guard = opened.Lock())
        {
            Assert.Equal(77, guard.Value);
            guard.Value = 344;
        }

        Assert.Equal(344, created.Read());
        Assert.Equal(2, created.CountReferences());
    }

    [Fact]
    public void Concurrent_increments_from_several_processes_lose_no_update()
    {
        string name = _segments.NewName("arc-increments");
        using var arc = IpcArc<long>.Create(name, 0);
        const int Processes = 4, Increments = 20_000;
        var peers = Enumerable.Range(0, Processes).Select(_ => Peer.Start("arc-increment", name, Increments.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        try
        {
            peers.ForEach(p => p.Expect("ready"));
            peers.ForEach(p => p.Send("go"));
            for (int i = 0; i < Increments; i++)
            {
                using IpcArcGuard<long> guard = arc.Lock();
                guard.Value++;
            }
            peers.ForEach(p => p.Expect("done"));
        }
        finally
        {
            peers.ForEach(p => p.Dispose());
        }

        Assert.Equal((Processes + 1) * Increments, arc.Read());
    }

    [Fact]
    public void Lock_after_holder_killed_reports_previous_owner_died_and_proceeds()
    {
        string name = _segments.NewName("arc-owner-died");
        using var arc = IpcArc<long>.Create(name, 5);
        using (var holder = Peer.Start("arc-lock-and-hang", name))
        {
            holder.Expect("locked");
            holder.KillHard();
        }

        using (IpcArcGuard<long> guard = arc.Lock())
        {
            Assert.True(guard.PreviousOwnerDied);
            Assert.Equal(-1, guard.Value); // what the dead holder had half-written
            guard.Value = 6;               // the repair
        }
        using (IpcArcGuard<long> guard = arc.Lock())
        {
            Assert.False(guard.PreviousOwnerDied);
        }
        Assert.Equal(6, arc.Read());
    }

    [Fact]
    public void Read_racing_a_holder_that_dies_reports_it_instead_of_hanging_and_recovers_after_repair()
    {
        string name = _segments.NewName("arc-read-dead");
        using var arc = IpcArc<long>.Create(name, 5);
        using (var holder = Peer.Start("arc-lock-and-hang", name))
        {
            holder.Expect("locked");
            holder.KillHard();
        }

        var error = Assert.Throws<LockHolderDiedException>(() => arc.Read());
        Assert.Contains("dead mid-change", error.Found, StringComparison.Ordinal);

        using (IpcArcGuard<long> guard = arc.Lock())
        {
            guard.Value = 9;
        }
        Assert.Equal(9, arc.Read());
    }

    [Fact]
    public void Read_never_sees_a_torn_64_byte_value_while_another_process_rewrites_it()
    {
        string name = _segments.NewName("arc-torn");
        using var arc = IpcArc<Block64>.Create(name, default);
        using var writer = Peer.Start("arc-rewrite", name);
        writer.Expect("ready");

        // Read until a thousand different values have been seen, so the reads truly overlapped the writes.
        long distinct = 0, last = 0;
        while (distinct < 1000)
        {
            Block64 v = arc.Read();
            Assert.True(v.A == v.B && v.B == v.C && v.C == v.D && v.D == v.E && v.E == v.F && v.F == v.G && v.G == v.H,
                $"torn read: {v.A} {v.B} {v.C} {v.D} {v.E} {v.F} {v.G} {v.H}");
            Assert.True(v.A >= last, $"went backwards from {last} to {v.A}");
            distinct += v.A != last ? 1 : 0;
            last = v.A;
        }
        writer.Send("stop");

        string? done = writer.ReadLine();
        Assert.StartsWith("done ", done, StringComparison.Ordinal);
        Assert.Equal(long.Parse(done![5..], System.Globalization.CultureInfo.InvariantCulture), arc.Read().H);
    }

    [Fact]
    public void When_every_holder_died_gc_removes_the_segment()
    {
        string name = _segments.NewName("arc-gc");
        using (var creator = Peer.Start("arc-create-and-hold", name))
        {
            creator.Expect("created");
            using var holder = Peer.Start("arc-hold-reference", name);
            holder.Expect("opened");
            creator.KillHard();
            holder.KillHard();
        }
        Assert.Equal("unused", SegmentCatalog.Inspect(name).Status);

        IReadOnlyList<SegmentInfo> removed = SegmentCatalog.CollectGarbage(namePrefix: name);

        Assert.Equal(SegmentKind.Arc, Assert.Single(removed).Kind);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Dropping_the_last_reference_removes_the_segment()
    {
        string name = _segments.NewName("arc-last");
        var arc = IpcArc<long>.Create(name, 1);
        var clone = arc.Clone();
        arc.Dispose();
        Assert.True(File.Exists(TestSegments.ShmPath(name)));

        clone.Dispose();

        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void TryLock_honours_its_timeout_while_another_process_holds_the_lock()
    {
        string name = _segments.NewName("arc-timeout");
        using var arc = IpcArc<long>.Create(name, 0);
        using var holder = Peer.Start("arc-hold", name);
        holder.Expect("locked");

        var waited = System.Diagnostics.Stopwatch.StartNew();
        bool acquired = arc.TryLock(TimeSpan.FromMilliseconds(200), out IpcArcGuard<long> none);
        waited.Stop();
        none.Dispose();

        Assert.False(acquired);
        Assert.InRange(waited.Elapsed, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(10));
        Assert.False(arc.TryLock(TimeSpan.Zero, out _));

        holder.Send("release");
        holder.Expect("released");
        Assert.True(arc.TryLock(TimeSpan.FromSeconds(10), out IpcArcGuard<long> guard));
        guard.Dispose();
    }

    [Fact]
    public void A_cancelled_lock_wait_throws_OperationCanceled()
    {
        string name = _segments.NewName("arc-cancel");
        using var arc = IpcArc<long>.Create(name, 0);
        using var holder = Peer.Start("arc-hold", name);
        holder.Expect("locked");
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        Assert.ThrowsAny<OperationCanceledException>(() => arc.Lock(cancellation.Token).Dispose());
    }

    [Fact]
    public void Locking_twice_on_one_thread_is_an_error_not_a_deadlock()
    {
        using var arc = IpcArc<long>.Create(_segments.NewName("arc-relock"), 0);
        using IpcArcGuard<long> guard = arc.Lock();

        Assert.Throws<InvalidOperationException>(() => arc.Lock().Dispose());
    }

    [Fact]
    public void Locking_or_reading_again_through_another_handle_on_the_holding_thread_is_an_error_not_a_deadlock()
    {
        string name = _segments.NewName("arc-relock-clone");
        using var arc = IpcArc<long>.Create(name, 0);
        using IpcArc<long> clone = arc.Clone();
        using IpcArcGuard<long> guard = arc.Lock();
        guard.Value = 1;

        var locked = Assert.Throws<InvalidOperationException>(() => clone.Lock().Dispose());
        Assert.Throws<InvalidOperationException>(() => clone.TryLock(TimeSpan.Zero, out IpcArcGuard<long> again));
        Assert.Throws<InvalidOperationException>(() => clone.TryLock(TimeSpan.FromSeconds(5), out IpcArcGuard<long> again));
        Assert.Throws<InvalidOperationException>(() => clone.Lock(CancellationToken.None).Dispose());
        var read = Assert.Throws<InvalidOperationException>(() => clone.Read(TimeSpan.FromSeconds(5)));

        Assert.Contains(name, locked.Message, StringComparison.Ordinal);
        Assert.Contains(name, read.Message, StringComparison.Ordinal);
        guard.Dispose();
        Assert.Equal(1, clone.Read()); // the failed attempts left the lock and the value as they were
        using IpcArcGuard<long> afterwards = clone.Lock();
        Assert.False(afterwards.PreviousOwnerDied);
    }

    [Fact]
    public void Opening_with_another_layout_fails_naming_both_types()
    {
        string name = _segments.NewName("arc-wrong-type");
        using var arc = IpcArc<Pair>.Create(name, default);

        var error = Assert.Throws<SegmentLayoutMismatchException>(() => IpcArc<OtherLayout>.Open(name));

        Assert.Contains(typeof(Pair).FullName!, error.Found, StringComparison.Ordinal);
        Assert.Contains(typeof(OtherLayout).FullName!, error.Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void A_program_with_an_identical_struct_of_its_own_may_share()
    {
        string name = _segments.NewName("arc-mirror");
        using var arc = IpcArc<Pair>.Create(name, new Pair { Left = 7, Right = 1L << 40 });
        using var peer = Peer.Start("arc-open-mirror", name);

        peer.Expect("value 7 1099511627776");
    }

    [Fact]
    public void Missing_and_existing_names_give_the_right_exceptions()
    {
        string name = _segments.NewName("arc-names");
        Assert.Throws<SegmentNotFoundException>(() => IpcArc<long>.Open(name));
        using var arc = IpcArc<long>.Create(name, 0);
        Assert.Throws<SegmentAlreadyExistsException>(() => IpcArc<long>.Create(name, 0));
        Assert.Throws<SegmentLayoutMismatchException>(() => SharedSegment.Open(name)); // an arc is not a raw segment
    }

    [Fact]
    public void A_type_holding_a_pointer_is_refused_before_anything_is_created()
    {
        string name = _segments.NewName("arc-pointer");

        var error = Assert.Throws<ArgumentException>(() => IpcArc<HoldsPointer>.Create(name, default));

        Assert.Contains("means nothing", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void A_read_with_a_time_limit_gives_up_on_a_holder_changing_the_value_and_reads_once_it_has_published()
    {
        string name = _segments.NewName("arc-read-timeout");
        using var arc = IpcArc<long>.Create(name, 7);
        using var holder = Peer.Start("arc-hold", name);
        holder.Expect("locked");

        var waited = Assert.Throws<TimeoutException>(() => arc.Read(TimeSpan.FromMilliseconds(50)));
        Assert.Contains(name, waited.Message, StringComparison.Ordinal);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => arc.Read(Timeout.InfiniteTimeSpan, cancelled.Token));

        holder.Send("release");
        holder.Expect("released");
        Assert.Equal(7, arc.Read(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, holder.Finish());
    }

    [Fact]
    public void Open_or_create_makes_one_value_and_then_opens_it()
    {
        string name = _segments.NewName("arc-open-or-create");
        using var first = IpcArc<long>.OpenOrCreate(name, 1);
        using var second = IpcArc<long>.OpenOrCreate(name, 2);

        Assert.Equal(1, second.Read());
        Assert.Equal(2, first.CountReferences());
    }
}
