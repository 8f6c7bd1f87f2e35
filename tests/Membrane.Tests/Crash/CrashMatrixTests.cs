using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Membrane.Arcs;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Sync;
using Content = Membrane.TestPeer.Content;
using JournalVerbs = Membrane.TestPeer.JournalVerbs;
using Membrane.Tests.Arcs;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Crash;

/// <summary>
/// The crash matrix: for every named crash point, a real child process runs the protocol and dies there (SIGKILL from
/// MEMBRANE_CRASH_AT), then this process, as survivor and as replacement, checks the protocol's invariants: nothing
/// delivered that was never published or with two contents, a replacement continuing with no gap and no duplicate,
/// everything still opening, no value torn, no reference or waiting count left behind, no debris rm or gc cannot
/// remove. One test case per point, named after it; docs/RELIABILITY.md lists the same.
/// </summary>
public sealed class CrashMatrixTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static readonly SegmentOptions s_removeWhenUnused = new() { RemoveWhenUnused = true };
    private readonly TestSegments _segments = new();
    private readonly Dictionary<string, Action<string>> _cases;

    public CrashMatrixTests() => _cases = new()
    {
        [CrashPoints.SegmentCreateBeforeHeader] = CreatorKilled,
        [CrashPoints.SegmentCreateBeforePublish] = CreatorKilled,
        [CrashPoints.SegmentOpenBeforeAttach] = OpenerKilled,
        [CrashPoints.SegmentAttachAfterSlot] = OpenerKilled,
        [CrashPoints.SegmentDetachAfterRelease] = LastDetacherKilled,
        [CrashPoints.SegmentRemoveAfterClaim] = LastDetacherKilled,
        [CrashPoints.RoleClaimAfterCas] = RoleClaimantKilled,
        [CrashPoints.ArcLockAfterAcquire] = ArcWriterKilled,
        [CrashPoints.ArcLockMidUpdate] = ArcWriterKilled,
        [CrashPoints.ArcUnlockBeforeRelease] = ArcWriterKilled,
        [CrashPoints.JournalAppendMidCopy] = JournalWriterKilled,
        [CrashPoints.JournalAppendBeforePublish] = JournalWriterKilled,
        [CrashPoints.JournalAppendAfterClaim] = SharedJournalWriterKilledHoldingClaim,
        [CrashPoints.JournalCursorAfterClaim] = JournalCursorClaimantKilled,
        [CrashPoints.JournalCommitBeforeStore] = JournalCommitterKilled,
        [CrashPoints.JournalCursorRemoveAfterUnregister] = CursorRemoverKilled,
        [CrashPoints.JournalReadParked] = JournalReaderKilledParked,
        [CrashPoints.RingReserveAfterPadding] = RingProducerKilledPadding,
        [CrashPoints.RingCommitBeforePublish] = RingProducerKilledCommitting,
        [CrashPoints.RingPartsAfterFirstPart] = RingProducerKilledMidParts,
        [CrashPoints.RingReleaseBeforePublish] = RingConsumerKilledReleasing,
        [CrashPoints.RingReadParked] = RingConsumerKilledParked,
        [CrashPoints.RingWriteParked] = RingProducerKilledParked,
        [CrashPoints.QueueReserveAfterClaim] = QueueProducerKilledHoldingClaim,
        [CrashPoints.QueueCommitBeforePublish] = QueueProducerKilledHoldingClaim,
        [CrashPoints.QueueReleaseBeforePublish] = QueueConsumerKilledReleasing,
        [CrashPoints.BridgeOutAfterAck] = BridgeKilled,
        [CrashPoints.BridgeInAfterAppend] = BridgeKilled,
    };

    public static TheoryData<string> Points => new(CrashPoints.All);

    public void Dispose() => _segments.Dispose();

    [Theory]
    [MemberData(nameof(Points))]
    public void Survivors_keep_every_invariant_after_a_kill_at(string point) => _cases[point](point);

    [Fact]
    public void Every_crash_point_is_listed_once_and_has_a_case()
    {
        string[] declared = typeof(CrashPoints).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name != nameof(CrashPoints.EnvironmentVariable))
            .Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(declared, CrashPoints.All.Order(StringComparer.Ordinal));
        Assert.Equal(declared, _cases.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_unknown_crash_point_is_refused_with_a_warning_and_arms_nothing()
    {
        string name = _segments.NewName("crash-unknown");
        using Peer creator = Peer.StartCrashingAt("segment.create.no-such-step", "crash-create", name);

        creator.Expect("created");
        Assert.Equal(0, creator.Finish());
        Assert.Contains("'segment.create.no-such-step' is not a crash point", creator.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A creator killed before its header or before publishing: the name stays free, the debris is marked as its creation, rm or gc removes it.</summary>
    private void CreatorKilled(string point)
    {
        string name = _segments.NewName("crash-create");
        int pid;
        using (Peer creator = Peer.StartCrashingAt(point, "crash-create", name))
        {
            pid = creator.Pid;
            _segments.TrackCreationsBy(pid);
            creator.ExpectCrash();
        }

        Assert.Throws<SegmentNotFoundException>(() => SharedSegment.Open(name)); // never half-visible under its name
        string debris = Assert.Single(TestSegments.CreationsBy(pid));
        SegmentInfo info = SegmentCatalog.List().Single(s => s.Name == debris);
        Assert.Equal("abandoned creation", info.Status);
        Assert.Equal(point == CrashPoints.SegmentCreateBeforeHeader ? SegmentState.Blank : SegmentState.Ready, info.State);
        using (SharedSegment created = SharedSegment.Create(name, 4096)) // the name is free at once
        {
            Assert.Equal(ProcessIdentity.Current, created.Creator);
        }
        if (point == CrashPoints.SegmentCreateBeforeHeader)
        {
            SegmentCatalog.Remove(debris);
        }
        else
        {
            Assert.Equal(debris, Assert.Single(SegmentCatalog.CollectGarbage(namePrefix: debris)).Name);
        }
        Assert.Empty(TestSegments.CreationsBy(pid));
    }

    /// <summary>An opener killed before attaching or inside its slot claim: it holds no reference, and the last live handle still removes the segment.</summary>
    private void OpenerKilled(string point)
    {
        string name = _segments.NewName("crash-open");
        var segment = SharedSegment.Create(name, 4096, s_removeWhenUnused);
        int pid;
        using (Peer opener = Peer.StartCrashingAt(point, "crash-open", name))
        {
            pid = opener.Pid;
            opener.ExpectCrash();
        }

        Assert.Equal(1, segment.CountAttached(out int references));
        Assert.Equal(1, references);
        IReadOnlyList<AttachedProcess> slots = SegmentCatalog.Inspect(name).Processes;
        if (point == CrashPoints.SegmentAttachAfterSlot)
        {
            Assert.False(slots.Single(p => p.Process.Pid == pid).IsAlive); // its slot, claimed by CAS, counts for nothing
        }
        using (var again = SharedSegment.Open(name))
        {
            Assert.Equal(1, again.CountAttached(out references));
            Assert.Equal(2, references);
        }
        segment.Dispose();
        Assert.False(File.Exists(TestSegments.ShmPath(name)), "the last live handle removes a remove-when-unused segment");
    }

    /// <summary>
    /// The last process to detach, killed after dropping its reference or holding the removal claim: the segment stays,
    /// opens, and is collected (the claim of a dead remover is taken over).
    /// </summary>
    private void LastDetacherKilled(string point)
    {
        string name = _segments.NewName("crash-detach");
        Peer detacher;
        using (SharedSegment.Create(name, 4096, s_removeWhenUnused))
        {
            detacher = Peer.StartCrashingAt(point, "crash-open", name);
            detacher.Expect("attached");
        }
        int pid = detacher.Pid;
        using (detacher)
        {
            Assert.Equal(Peer.KilledBySigkill, detacher.Finish()); // its detach is the last
        }

        Assert.True(File.Exists(TestSegments.ShmPath(name)));
        SegmentInfo info = SegmentCatalog.Inspect(name);
        Assert.Equal(0, info.LiveProcesses);
        Assert.Equal("unused", info.Status);
        if (point == CrashPoints.SegmentRemoveAfterClaim)
        {
            Assert.Equal(pid, info.RemovalClaimant?.Pid);
            Assert.Equal(name, Assert.Single(SegmentCatalog.CollectGarbage(namePrefix: name)).Name);
        }
        else
        {
            using (SharedSegment.Open(name))
            {
                // still whole and usable; as the last to detach, this handle removes it
            }
        }
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    /// <summary>A writer killed between its role's CAS and its boot tag: the next writer replaces it and continues.</summary>
    private void RoleClaimantKilled(string point)
    {
        string name = _segments.NewName("crash-role");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
        int pid;
        using (Peer writer = Peer.StartCrashingAt(point, "journal-write", name, "10"))
        {
            pid = writer.Pid;
            writer.ExpectCrash();
        }

        Assert.Equal(pid, journal.Writer?.Pid);
        using JournalWriter replacement = journal.CreateWriter();
        Assert.Equal(ProcessIdentity.Current, journal.Writer);
        Assert.Equal(0, replacement.NextSequence);
    }

    /// <summary>
    /// An arc writer killed holding the lock before writing, with the value half written, or published but the lock not
    /// released: a read never shows a torn value, the next locker hears the previous owner died, and the reference is
    /// reclaimed.
    /// </summary>
    private void ArcWriterKilled(string point)
    {
        string name = _segments.NewName("crash-arc");
        using var arc = IpcArc<Block64>.Create(name, Uniform(1));
        using (Peer writer = Peer.StartCrashingAt(point, "crash-arc-write", name, "2"))
        {
            writer.ExpectCrash();
        }

        if (point == CrashPoints.ArcLockAfterAcquire)
        {
            Assert.Equal(Uniform(1), arc.Read()); // it wrote nothing: the value stands, readable without waiting
            using IpcArcGuard<Block64> guard = arc.Lock();
            Assert.True(guard.PreviousOwnerDied);
            Assert.Equal(Uniform(1), guard.Value);
            guard.Value = Uniform(3);
        }
        else if (point == CrashPoints.ArcLockMidUpdate)
        {
            Assert.Throws<LockHolderDiedException>(() => arc.Read()); // never the half-written value
            using IpcArcGuard<Block64> guard = arc.Lock();
            Assert.True(guard.PreviousOwnerDied);
            Assert.Equal((2, 1), (guard.Value.A, guard.Value.H)); // what the point promises: half of it written
            guard.Value = Uniform(3);
        }
        else
        {
            Assert.Equal(Uniform(2), arc.Read()); // published whole before the death
            using IpcArcGuard<Block64> guard = arc.Lock();
            Assert.True(guard.PreviousOwnerDied);
            Assert.Equal(Uniform(2), guard.Value);
            guard.Value = Uniform(3);
        }
        Assert.Equal(Uniform(3), arc.Read());
        Assert.Equal(1, arc.CountReferences());
    }

    /// <summary>
    /// A journal writer killed at its 4th append, mid-copy or after stamping it complete: what readers got is exactly what
    /// was stamped complete, once, and a replacement writer continues from there with no gap and no duplicate.
    /// </summary>
    private void JournalWriterKilled(string point)
    {
        string name = _segments.NewName("crash-journal-write");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
        using JournalReader reader = journal.OpenReader("reporter", StartPosition.Oldest);
        using (Peer writer = Peer.StartCrashingAt(point + "@4", "journal-write", name, "10"))
        {
            writer.ExpectCrash();
        }
        long stampedComplete = point == CrashPoints.JournalAppendBeforePublish ? 4 : 3;

        Assert.Equal(stampedComplete, ReadAll(reader, from: 0)); // the half-copied entry is never delivered
        reader.Commit();
        Assert.Equal(3, journal.PublishedWritePosition); // the 4th was never published ...
        Assert.Equal(stampedComplete, journal.WritePosition); // ... but counts where it was stamped complete
        using (global::Membrane.Journals.Journal.Open(name))
        {
            // ... yet a cursor that committed it does not make the journal look damaged
        }
        using (JournalWriter replacement = journal.CreateWriter())
        {
            Assert.Equal(stampedComplete, replacement.NextSequence);
            Assert.Equal(stampedComplete, journal.PublishedWritePosition);
            AppendEntries(replacement, 3);
        }
        Assert.Equal(stampedComplete + 3, ReadAll(reader, from: stampedComplete));
        using JournalReader late = journal.OpenReader("late", StartPosition.Oldest);
        Assert.Equal(stampedComplete + 3, ReadAll(late, from: 0)); // every entry once, with one content
    }

    /// <summary>
    /// One of many journal writers killed right after claiming its 4th sequence: readers skip that one sequence as aborted
    /// (once, never torn), a writer taking over the dead one's slot continues after it, and the next lap's writer of the
    /// hole's slot takes it over instead of waiting for the dead claimant.
    /// </summary>
    private void SharedJournalWriterKilledHoldingClaim(string point)
    {
        string name = _segments.NewName("crash-journal-many");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64, Writers = JournalWriters.Many, MaxWriters = 1 });
        using JournalReader reader = journal.OpenReader("reporter", StartPosition.Oldest);
        using (Peer writer = Peer.StartCrashingAt(point + "@4", "journal-write-tagged", name, "0", "10"))
        {
            writer.ExpectCrash();
        }
        Assert.Equal(4, journal.WritePosition); // claimed 0..3, completed 0..2
        JournalWriterInfo dead = Assert.Single(journal.ReadWriters());
        Assert.Equal((false, 3L), (dead.Alive, dead.Claiming));

        using (JournalWriter successor = journal.CreateWriter()) // the one slot: the dead writer's, taken over
        {
            Span<long> entry = stackalloc long[8];
            for (int i = 0; i < 3 + 16; i++) // 4..22: past the hole's slot on the next lap (19)
            {
                JournalVerbs.FillTagged(entry, 1, i);
                Assert.Equal(4 + i, successor.Append(MemoryMarshal.AsBytes(entry)));
                if (i == 2)
                {
                    Assert.Equal(7, ReadTagged(reader, [0, 1, 2, 4, 5, 6])); // 3 skipped, said on 4
                    Assert.Equal(1, reader.TotalAborted);
                }
            }
        }
        Assert.Equal(23, ReadTagged(reader, [.. Enumerable.Range(7, 16).Select(i => (long)i)]));
        Assert.Equal((1L, 0L), (reader.TotalAborted, reader.TotalLost));
        Assert.Empty(journal.ReadWriters());
    }

    /// <summary>Reads the entries there are, checking they are exactly <paramref name="sequences"/>, whole; returns the position after.</summary>
    private static long ReadTagged(JournalReader reader, long[] sequences)
    {
        Span<long> entry = stackalloc long[8];
        var read = new List<long>();
        while (reader.TryRead(MemoryMarshal.AsBytes(entry), TimeSpan.FromSeconds(5), CancellationToken.None, out JournalRecord record))
        {
            Assert.True(JournalVerbs.IsWholeTagged(entry), $"entry {record.Sequence} is torn");
            Assert.Equal(record.Sequence == 4 ? 1 : 0, record.AbortedBefore);
            read.Add(record.Sequence);
            if (read.Count == sequences.Length)
            {
                break;
            }
        }
        Assert.Equal(sequences, read);
        return reader.Position;
    }

    /// <summary>A reader killed after claiming the only cursor and before naming it: the cursor is not lost to the next reader.</summary>
    private void JournalCursorClaimantKilled(string point)
    {
        string name = _segments.NewName("crash-cursor");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64, Cursors = 1 });
        int pid;
        using (Peer reader = Peer.StartCrashingAt(point, "crash-journal-reader", name, "reporter"))
        {
            pid = reader.Pid;
            reader.ExpectCrash();
        }

        CursorInfo cursor = Assert.Single(journal.Cursors());
        Assert.Equal(pid, cursor.Owner?.Pid);
        Assert.False(cursor.OwnerAlive);
        using JournalReader replacement = journal.OpenReader("reporter");
        Assert.Equal(0, replacement.CursorId);
    }

    /// <summary>A reader killed about to store its second commit: the cursor resumes at the first, and every entry from there is whole.</summary>
    private void JournalCommitterKilled(string point)
    {
        string name = _segments.NewName("crash-commit");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, SlotSize = 64 });
        using (JournalWriter writer = journal.CreateWriter())
        {
            AppendContent(writer, 20);
        }
        using (Peer reader = Peer.StartCrashingAt(point + "@2", "crash-journal-read", name, "reporter", "5", "3"))
        {
            reader.Expect("committed 5");
            reader.ExpectCrash();
        }

        using JournalReader replacement = journal.OpenReader("reporter");
        Assert.Equal(5, replacement.Position);
        byte[] entry = new byte[journal.SlotSize];
        for (long sequence = 5; sequence < 20; sequence++)
        {
            Assert.True(replacement.TryRead(entry, out JournalRecord record));
            Assert.Equal((sequence, 0L), (record.Sequence, record.LostBefore));
            Assert.True(Content.Matches(entry.AsSpan(0, record.Length), sequence));
        }
    }

    /// <summary>
    /// A process killed removing a cursor, after unregistering it: a Block writer no longer waits for it, the removal can
    /// be done again, and the next reader by its name starts afresh.
    /// </summary>
    private void CursorRemoverKilled(string point)
    {
        string name = _segments.NewName("crash-remove-cursor");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64, Policy = OverrunPolicy.Block });
        using (journal.OpenReader("reporter"))
        {
            // registered at 0, then detached: a Block writer waits for it from now on
        }
        using (Peer remover = Peer.StartCrashingAt(point, "crash-journal-remove-cursor", name, "0"))
        {
            remover.ExpectCrash();
        }

        Assert.False(journal.Cursors()[0].Registered);
        using (JournalWriter writer = journal.CreateWriter(blockTimeout: s_wait))
        {
            AppendEntries(writer, 32); // two rings' worth: nobody is waited for
        }
        journal.RemoveCursor(0); // the dead remover's hold on the cursor is taken over
        Assert.Null(journal.Cursors()[0].Name);
        using JournalReader fresh = journal.OpenReader("reporter", StartPosition.Oldest);
        Assert.Equal(32 - 16 + 1, fresh.Position); // registered afresh: a new Block cursor starts one past write - capacity
    }

    /// <summary>A reader killed while parked: its count in ParkedReaders is taken back, so appends stop paying a wake.</summary>
    private void JournalReaderKilledParked(string point)
    {
        string name = _segments.NewName("crash-parked-reader");
        using var journal = global::Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
        using (Peer reader = Peer.StartCrashingAt(point, "crash-journal-reader", name, "reporter"))
        {
            reader.Expect("attached");
            reader.ExpectCrash();
        }

        Assert.Equal(1, WaiterCount.Waiters(Volatile.Read(ref journal.ParkedReaders))); // what the dead reader left
        using JournalWriter writer = journal.CreateWriter();
        Assert.Equal(0, WaiterCount.Waiters(Volatile.Read(ref journal.ParkedReaders)));
        AppendContent(writer, 1);
        using JournalReader replacement = journal.OpenReader("reporter");
        Assert.True(replacement.TryRead(new byte[journal.SlotSize], out JournalRecord record));
        Assert.Equal(0, record.Sequence);
    }

    /// <summary>A producer killed after writing a wrap's padding, unpublished: the consumer sees nothing of it, and a replacement wraps cleanly.</summary>
    private void RingProducerKilledPadding(string point)
    {
        const int Size = 64; // a 72-byte record: more than the 64 bytes left before the end
        string name = _segments.NewName("crash-ring-padding");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using (RingProducer first = ring.CreateProducer())
        {
            for (int i = 0; i < 63; i++) // 63 records of 64 bytes: the tail 64 bytes before the end
            {
                Assert.True(first.TryWrite(new byte[56]));
                Assert.True(consumer.TryRead(new byte[56], out _));
            }
        }
        using (Peer producer = Peer.StartCrashingAt(point, "crash-ring-write", name, "2", Size.ToString(CultureInfo.InvariantCulture), "0"))
        {
            producer.ExpectCrash();
        }

        Assert.False(consumer.TryRead(out _));
        using RingProducer replacement = ring.CreateProducer();
        byte[] message = new byte[Size];
        Assert.True(replacement.TryWrite(message.AsSpan(0, Content.Write(message, 0, Size))));
        Assert.True(consumer.TryRead(out RingLease lease));
        using (lease)
        {
            Assert.True(Content.Matches(lease.Message, 0, Size));
        }
    }

    /// <summary>A producer killed committing its 3rd message, before publishing it: that message is never delivered, and a replacement continues.</summary>
    private void RingProducerKilledCommitting(string point)
    {
        string name = _segments.NewName("crash-ring-commit");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using RingConsumer consumer = ring.CreateConsumer();
        using (Peer producer = Peer.StartCrashingAt(point + "@3", "crash-ring-write", name, "10", "0", "0"))
        {
            producer.ExpectCrash();
        }

        Assert.Equal(2, ReadMessages(consumer, from: 0));
        using RingProducer replacement = ring.CreateProducer();
        WriteMessages(replacement, from: 2, count: 3);
        Assert.Equal(3, ReadMessages(consumer, from: 2));
    }

    /// <summary>
    /// A producer killed after the first part of a message in parts: the consumer hears it died and keeps the half
    /// message unread; the replacement ends it as aborted, and the consumer skips it (counted) and reads on intact.
    /// </summary>
    private void RingProducerKilledMidParts(string point)
    {
        const int Size = 1000, PartSize = 256;
        string name = _segments.NewName("crash-ring-parts");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 1 << 16 });
        using RingConsumer consumer = ring.CreateConsumer();
        using (Peer producer = Peer.StartCrashingAt(point, "crash-ring-write", name, "3", Size.ToString(CultureInfo.InvariantCulture), PartSize.ToString(CultureInfo.InvariantCulture)))
        {
            producer.ExpectCrash();
        }
        byte[] buffer = new byte[Size];

        Assert.Throws<PeerGoneException>(() => consumer.TryRead(buffer, s_wait, CancellationToken.None, out _));
        Assert.Equal(0, Volatile.Read(ref ring.Field64(RingLayout.HeadOffset)));
        using RingProducer replacement = ring.CreateProducer();
        replacement.PartSize = PartSize;
        byte[] message = new byte[Size];
        for (long sequence = 0; sequence < 3; sequence++)
        {
            replacement.Write(message.AsSpan(0, Content.Write(message, sequence, Size)));
        }
        for (long sequence = 0; sequence < 3; sequence++)
        {
            Assert.True(consumer.TryRead(buffer, s_wait, CancellationToken.None, out int length));
            Assert.True(Content.Matches(buffer.AsSpan(0, length), sequence, Size), $"message {sequence}");
        }
        Assert.Equal(1, consumer.AbortedMessages);
        Assert.False(consumer.TryRead(out _));
    }

    /// <summary>A consumer killed releasing its 3rd message, before publishing the head: the replacement gets that message again, never skips one.</summary>
    private void RingConsumerKilledReleasing(string point)
    {
        string name = _segments.NewName("crash-ring-release");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using (RingProducer producer = ring.CreateProducer())
        {
            WriteMessages(producer, from: 0, count: 5);
        }
        using (Peer consumer = Peer.StartCrashingAt(point + "@3", "crash-ring-read", name, "5"))
        {
            consumer.Expect("attached");
            consumer.ExpectCrash();
        }

        using RingConsumer replacement = ring.CreateConsumer();
        Assert.Equal(3, ReadMessages(replacement, from: 2)); // at least once: message 2 again, then 3 and 4
    }

    /// <summary>
    /// A queue producer killed holding its third claim (its header unwritten, or the message copied and not committed):
    /// the consumer gets its first two messages, skips the dead claim as aborted, and reads what another producer writes next.
    /// </summary>
    private void QueueProducerKilledHoldingClaim(string point)
    {
        string name = _segments.NewName("crash-queue");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 4096 });
        using QueueConsumer consumer = queue.CreateConsumer();
        using (Peer producer = Peer.StartCrashingAt($"{point}@3", "queue-write", name, "0", "10"))
        {
            producer.ExpectCrash();
        }
        using Peer next = Peer.Start("queue-write", name, "1", "5");
        next.Expect("producing 0"); // the dead producer's slot, taken over
        next.Expect("written 5");

        var message = new byte[16];
        var read = new List<(long Id, long Sequence)>();
        while (read.Count < 7 && consumer.TryRead(message, s_wait, CancellationToken.None, out int length))
        {
            Assert.Equal(16, length);
            read.Add((BitConverter.ToInt64(message), BitConverter.ToInt64(message, 8)));
        }

        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)], read);
        Assert.Equal(1, consumer.AbortedClaims);
        Assert.Equal(1, queue.AbortedClaims);
    }

    /// <summary>
    /// A queue consumer killed after saying it released its third message and zeroing it, before publishing its head:
    /// the replacement neither reads that message again nor loses the next, and the room it finishes zeroing takes a
    /// whole queue's worth of messages again, intact.
    /// </summary>
    private void QueueConsumerKilledReleasing(string point)
    {
        string name = _segments.NewName("crash-queue-release");
        using var queue = SharedQueue.Create(name, new QueueOptions { Capacity = 256 });
        using QueueProducer producer = queue.CreateProducer();
        for (long sequence = 0; sequence < 5; sequence++)
        {
            Assert.True(producer.TryWrite(QueueMessage(sequence)));
        }
        using (Peer consumer = Peer.StartCrashingAt($"{point}@3", "queue-read", name, "5"))
        {
            consumer.ExpectCrash();
        }

        using QueueConsumer replacement = queue.CreateConsumer();
        var message = new byte[16];
        var read = new List<long>();
        void ReadAll()
        {
            while (replacement.TryRead(message, out int length))
            {
                Assert.Equal(16, length);
                read.Add(BitConverter.ToInt64(message, 8));
            }
        }
        ReadAll();
        for (long sequence = 5; sequence < 45; sequence++) // four times round the queue, through the room the replacement returned
        {
            Assert.True(producer.TryWrite(QueueMessage(sequence)));
            ReadAll();
        }

        Assert.Equal(Enumerable.Range(3, 42).Select(i => (long)i), read);
        Assert.Equal(0, replacement.AbortedClaims);
    }

    private static byte[] QueueMessage(long sequence) => [.. BitConverter.GetBytes(0L), .. BitConverter.GetBytes(sequence)];

    /// <summary>A consumer killed while parked: a replacement starts with nobody counted as waiting, and reads on.</summary>
    private void RingConsumerKilledParked(string point)
    {
        string name = _segments.NewName("crash-ring-parked-consumer");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
        using (Peer consumer = Peer.StartCrashingAt(point, "crash-ring-read", name, "1"))
        {
            consumer.Expect("attached");
            consumer.ExpectCrash();
        }

        Assert.Equal(1, WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ConsumerWaitingOffset))));
        using RingConsumer replacement = ring.CreateConsumer();
        Assert.Equal(0, WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ConsumerWaitingOffset))));
        using RingProducer producer = ring.CreateProducer();
        WriteMessages(producer, from: 0, count: 2);
        Assert.Equal(2, ReadMessages(replacement, from: 0));
    }

    /// <summary>A producer killed while parked on a full ring: everything it published arrives, and its replacement starts uncounted and continues.</summary>
    private void RingProducerKilledParked(string point)
    {
        string name = _segments.NewName("crash-ring-parked-producer");
        using var ring = SharedRing.Create(name, new RingOptions { Capacity = 1024 });
        using (Peer producer = Peer.StartCrashingAt(point, "crash-ring-write", name, "1000", "0", "0"))
        {
            producer.ExpectCrash();
        }

        Assert.Equal(1, WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ProducerWaitingOffset))));
        using RingConsumer consumer = ring.CreateConsumer();
        int published = ReadMessages(consumer, from: 0);
        Assert.True(published > 10, $"only {published} messages before the ring was full");
        using RingProducer replacement = ring.CreateProducer();
        Assert.Equal(0, WaiterCount.Waiters(Volatile.Read(ref ring.Field32(RingLayout.ProducerWaitingOffset))));
        WriteMessages(replacement, from: published, count: 1);
        Assert.Equal(1, ReadMessages(consumer, from: published));
    }

    private static Block64 Uniform(long value) => new() { A = value, B = value, C = value, D = value, E = value, F = value, G = value, H = value };

    /// <summary>Reads every entry there is, checking each is the next sequence, lost nothing, and holds what the writer peer wrote; returns the position after.</summary>
    private static long ReadAll(JournalReader reader, long from)
    {
        Span<long> entry = stackalloc long[8];
        Span<long> expected = stackalloc long[8];
        long next = from;
        while (reader.TryRead(MemoryMarshal.AsBytes(entry), out JournalRecord record))
        {
            Assert.Equal((next, 0L), (record.Sequence, record.LostBefore));
            JournalVerbs.Fill(expected, next);
            Assert.True(entry.SequenceEqual(expected), $"entry {next} holds another content");
            next++;
        }
        return next;
    }

    private static void AppendEntries(JournalWriter writer, int count)
    {
        Span<long> entry = stackalloc long[8];
        for (int i = 0; i < count; i++)
        {
            JournalVerbs.Fill(entry, writer.NextSequence);
            writer.Append(MemoryMarshal.AsBytes(entry));
        }
    }

    /// <summary>
    /// A bridge killed between its two sides' records of an entry (out: the server acknowledged it, the cursor does not
    /// say so; in: the far journal holds it, the server was not told): the cursor or far journal is behind the other
    /// side, never ahead, and the successor carries every entry once: the stream holds each once, and the far journal
    /// every near entry in order, byte for byte, under its own sequence.
    /// </summary>
    private void BridgeKilled(string point)
    {
        const int Count = 1000;
        using NatsServer server = NatsServer.Start(_segments);
        string near = _segments.NewName("crash-bridge-near"), far = _segments.NewName("crash-bridge-far");
        string stream = string.Create(CultureInfo.InvariantCulture, $"crash{Environment.ProcessId}-{(point == CrashPoints.BridgeOutAfterAck ? "out" : "in")}");
        using var nearJournal = global::Membrane.Journals.Journal.Create(near, new JournalOptions { Capacity = 2048, SlotSize = 64 });
        using (JournalWriter writer = nearJournal.CreateWriter())
        {
            AppendContent(writer, Count);
        }
        string[] outArguments = ["bridge", "out", "--journal", near, "--nats", server.Url, "--stream", stream];
        string[] inArguments = ["bridge", "in", "--nats", server.Url, "--stream", stream, "--journal", far, "--capacity", "2048", "--ack-wait", "1"];
        bool outDies = point == CrashPoints.BridgeOutAfterAck;
        using (Peer? carrier = outDies ? null : Peer.Cli(outArguments))
        using (Peer dying = Peer.CliCrashingAt(point + "@500", outDies ? outArguments : inArguments))
        {
            dying.ExpectCrash();
            if (outDies)
            {
                CursorInfo cursor = nearJournal.Cursors().Single(c => c.Name == $"bridge:{stream}");
                Assert.InRange(cursor.CommittedPosition, 0, 499); // the 500th acknowledgement is not committed
            }
            else
            {
                using var farJournal = global::Membrane.Journals.Journal.Open(far);
                Assert.Equal(500, farJournal.WritePosition); // appended, never acknowledged
                carrier!.Terminate();
                Assert.Equal(0, carrier.ReadToExit().ExitCode);
            }
        }
        using (Peer outBridge = Peer.Cli(outArguments))
        using (Peer inBridge = Peer.Cli(inArguments))
        {
            Eventually.Holds(() => File.Exists(TestSegments.ShmPath(far)), "the in bridge creating the far journal");
            using var farJournal = global::Membrane.Journals.Journal.Open(far);
            Eventually.Holds(() => farJournal.WritePosition == Count, $"the far journal holding all {Count}");
            Eventually.Holds(() => nearJournal.Cursors().Single(c => c.Name == $"bridge:{stream}").CommittedPosition == Count, "the out bridge committing all");
            foreach (Peer bridge in new[] { outBridge, inBridge })
            {
                bridge.Terminate();
                (int exit, string said) = bridge.ReadToExit();
                Assert.True(exit == 0, $"exit {exit}: {said} {bridge.Stderr}");
            }
            using JournalReader reader = farJournal.OpenReader(0, StartPosition.Oldest);
            byte[] entry = new byte[farJournal.SlotSize];
            for (long sequence = 0; sequence < Count; sequence++)
            {
                Assert.True(reader.TryRead(entry, out JournalRecord record));
                Assert.Equal((sequence, 0L), (record.Sequence, record.LostBefore));
                Assert.True(Content.Matches(entry.AsSpan(0, record.Length), sequence));
            }
            Assert.False(reader.TryRead(entry, out _));
        }
        Assert.Equal(Count, StreamMessages(server.Url, stream));
    }

    private static long StreamMessages(string url, string stream)
    {
        var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = url });
        try
        {
            var js = new NATS.Client.JetStream.NatsJSContext(connection);
            return js.GetStreamAsync(stream).AsTask().GetAwaiter().GetResult().Info.State.Messages;
        }
        finally
        {
            connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void AppendContent(JournalWriter writer, int count)
    {
        byte[] entry = new byte[Content.MaxLength];
        for (int i = 0; i < count; i++)
        {
            writer.Append(entry.AsSpan(0, Content.Write(entry, writer.NextSequence)));
        }
    }

    private static void WriteMessages(RingProducer producer, long from, int count)
    {
        byte[] message = new byte[Content.MaxLength];
        for (long sequence = from; sequence < from + count; sequence++)
        {
            Assert.True(producer.TryWrite(message.AsSpan(0, Content.Write(message, sequence))));
        }
    }

    /// <summary>Reads every message there is (no waiting), checking each is the next in sequence; returns how many.</summary>
    private static int ReadMessages(RingConsumer consumer, long from)
    {
        int read = 0;
        while (consumer.TryRead(out RingLease lease))
        {
            using (lease)
            {
                Assert.True(Content.Matches(lease.Message, from + read), $"message {from + read}");
            }
            read++;
        }
        return read;
    }
}
