using System.Globalization;
using System.Runtime.CompilerServices;
using Membrane.Native;

namespace Membrane.Diagnostics;

/// <summary>
/// Named crash points: <c>MEMBRANE_CRASH_AT=&lt;point&gt;[@&lt;n&gt;]</c> in a process's environment makes it kill itself
/// with SIGKILL the <c>n</c>-th time (default 1) it reaches <c>&lt;point&gt;</c>. A point sits at every step of every
/// multi-step shared-memory protocol, at the few-nanosecond windows that a random <c>kill -9</c> almost never lands
/// in, so that tests (and users) can prove what survivors see after a death exactly there. docs/RELIABILITY.md lists
/// each point with the invariant it is checked against.
/// <para>
/// Unset, a point costs nothing: <see cref="Armed"/> is a <c>static readonly</c> that the JIT folds to a constant, so
/// <c>if (CrashPoints.Armed)</c> and everything behind it disappear from optimised code.
/// </para>
/// </summary>
public static class CrashPoints
{
    /// <summary>The environment variable that arms a point.</summary>
    public const string EnvironmentVariable = "MEMBRANE_CRASH_AT";

    /// <summary>A segment's file exists (created exclusively, its size reserved) and its header is not written yet.</summary>
    public const string SegmentCreateBeforeHeader = "segment.create.before-header";

    /// <summary>A segment's header and payload are written, and it is not yet published under its name.</summary>
    public const string SegmentCreateBeforePublish = "segment.create.before-publish";

    /// <summary>An opener has validated the header and not yet taken a slot in the process table.</summary>
    public const string SegmentOpenBeforeAttach = "segment.open.before-attach";

    /// <summary>A slot of the process table is claimed (identity CAS) and its boot tag and reference count are not written yet.</summary>
    public const string SegmentAttachAfterSlot = "segment.attach.after-slot";

    /// <summary>The last reference of a process is dropped (its slot freed) and the removal claim not yet tried.</summary>
    public const string SegmentDetachAfterRelease = "segment.detach.after-release";

    /// <summary>The removal claim is held and the name not yet unlinked.</summary>
    public const string SegmentRemoveAfterClaim = "segment.remove.after-claim";

    /// <summary>A role (journal writer, cursor, ring end) is claimed by CAS and the holder's boot tag not yet written.</summary>
    public const string RoleClaimAfterCas = "role.claim.after-cas";

    /// <summary>An arc's lock just acquired, its holder recorded, the sequence not yet made odd (nothing written).</summary>
    public const string ArcLockAfterAcquire = "arc.lock.after-acquire";

    /// <summary>Inside an arc's lock, the new value half written (<see cref="Arcs.IpcArc{T}.Write(in T)"/>).</summary>
    public const string ArcLockMidUpdate = "arc.lock.mid-update";

    /// <summary>An arc's new value is published (even sequence) and the lock not yet released.</summary>
    public const string ArcUnlockBeforeRelease = "arc.unlock.before-release";

    /// <summary>Half of a journal entry copied into its slot (stamped as being written).</summary>
    public const string JournalAppendMidCopy = "journal.append.mid-copy";

    /// <summary>A journal entry stamped complete, the write position not yet published.</summary>
    public const string JournalAppendBeforePublish = "journal.append.before-publish";

    /// <summary>A writer of a journal with many writers has claimed a sequence (CAS on the write position) and written nothing of it.</summary>
    public const string JournalAppendAfterClaim = "journal.append.after-claim";

    /// <summary>A journal cursor claimed by a reader and not yet registered.</summary>
    public const string JournalCursorAfterClaim = "journal.cursor.after-claim";

    /// <summary>A journal reader has delivered entries and is about to store its committed position.</summary>
    public const string JournalCommitBeforeStore = "journal.commit.before-store";

    /// <summary>A journal cursor being removed is unregistered; its name and position are not yet cleared.</summary>
    public const string JournalCursorRemoveAfterUnregister = "journal.cursor.remove.after-unregister";

    /// <summary>A journal reader counted itself as parked and is about to sleep.</summary>
    public const string JournalReadParked = "journal.read.parked";

    /// <summary>A ring producer wrote the padding record of a wrap (unpublished) and has not yet reserved past it.</summary>
    public const string RingReserveAfterPadding = "ring.reserve.after-padding";

    /// <summary>A ring message committed (its record header written) and the tail not yet published.</summary>
    public const string RingCommitBeforePublish = "ring.commit.before-publish";

    /// <summary>The first part of a message in parts is published and the rest is not.</summary>
    public const string RingPartsAfterFirstPart = "ring.parts.after-first-part";

    /// <summary>A ring message read and released by the consumer, the head not yet published.</summary>
    public const string RingReleaseBeforePublish = "ring.release.before-publish";

    /// <summary>A ring consumer counted itself as parked and is about to sleep.</summary>
    public const string RingReadParked = "ring.read.parked";

    /// <summary>A ring producer, waiting for room, counted itself as parked and is about to sleep.</summary>
    public const string RingWriteParked = "ring.write.parked";

    /// <summary>A queue producer's CAS on the tail claimed room, and the claim's record header is not written yet.</summary>
    public const string QueueReserveAfterClaim = "queue.reserve.after-claim";

    /// <summary>A queue message is copied into its claim and its header not yet turned from claimed into a message.</summary>
    public const string QueueCommitBeforePublish = "queue.commit.before-publish";

    /// <summary>A queue consumer has stored how far it released and zeroed that room, and not yet published its head.</summary>
    public const string QueueReleaseBeforePublish = "queue.release.before-publish";

    /// <summary>An out bridge (Membrane.Nats) has the server's acknowledgement of an entry and has not yet committed its cursor past it.</summary>
    public const string BridgeOutAfterAck = "bridge.out.after-ack";

    /// <summary>An in bridge (Membrane.Nats) has appended an entry to the far journal and not yet acknowledged it to the server.</summary>
    public const string BridgeInAfterAppend = "bridge.in.after-append";

    /// <summary>Every point, in the order of the list above.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        SegmentCreateBeforeHeader, SegmentCreateBeforePublish, SegmentOpenBeforeAttach, SegmentAttachAfterSlot,
        SegmentDetachAfterRelease, SegmentRemoveAfterClaim, RoleClaimAfterCas, ArcLockAfterAcquire, ArcLockMidUpdate,
        ArcUnlockBeforeRelease, JournalAppendMidCopy, JournalAppendBeforePublish, JournalAppendAfterClaim, JournalCursorAfterClaim, JournalCommitBeforeStore,
        JournalCursorRemoveAfterUnregister, JournalReadParked, RingReserveAfterPadding, RingCommitBeforePublish,
        RingPartsAfterFirstPart, RingReleaseBeforePublish, RingReadParked, RingWriteParked, QueueReserveAfterClaim,
        QueueCommitBeforePublish, QueueReleaseBeforePublish, BridgeOutAfterAck, BridgeInAfterAppend,
    ];

    /// <summary>Whether this process has a crash point armed. Test it before <see cref="Reach"/> so that unarmed code pays nothing.</summary>
    internal static readonly bool Armed = Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 };

    private static readonly Target s_target = Target.Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    private static int s_reached;

    /// <summary>Dies here (SIGKILL to this process) if <paramref name="point"/> is the armed point reached for the n-th time.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Reach(string point)
    {
        if (!string.Equals(point, s_target.Point, StringComparison.Ordinal) || Interlocked.Increment(ref s_reached) != s_target.Occurrence)
        {
            return;
        }
        const int SIGKILL = 9;
        _ = Interop.Kill(Interop.GetPid(), SIGKILL);
        // SIGKILL is not blockable and is delivered before kill() returns to a process that sends it to itself.
        Environment.FailFast($"crash point {point}: SIGKILL did not end the process");
    }

    /// <summary>Copies the first half of <paramref name="source"/> to <paramref name="destination"/>, then reaches <paramref name="point"/>.</summary>
    internal static void ReachMidCopy(string point, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source[..(source.Length / 2)].CopyTo(destination);
        Reach(point);
    }

    /// <summary>The armed point and the occurrence that kills, from <c>point[@n]</c>.</summary>
    private readonly record struct Target(string? Point, int Occurrence)
    {
        internal static Target Parse(string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return new Target(null, 0);
            }
            int at = value.IndexOf('@', StringComparison.Ordinal);
            string point = at < 0 ? value : value[..at];
            int occurrence = 1;
            if (at >= 0 && (!int.TryParse(value.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out occurrence) || occurrence < 1))
            {
                Console.Error.WriteLine($"Membrane: {EnvironmentVariable}={value}: the occurrence after '@' must be a whole number from 1; no crash point is armed.");
                return new Target(null, 0);
            }
            if (!All.Contains(point))
            {
                Console.Error.WriteLine($"Membrane: {EnvironmentVariable}={value}: '{point}' is not a crash point (see docs/RELIABILITY.md); none is armed.");
                return new Target(null, 0);
            }
            return new Target(point, occurrence);
        }
    }
}
