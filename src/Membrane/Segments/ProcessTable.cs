using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Native;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

/// <summary>
/// The table of attached processes in a segment header, and the removal claim that makes "remove the segment when
/// nobody is attached" safe against a process attaching at the same moment.
/// <para>
/// Protocol. A slot is free when its identity word is 0. A process claims a free slot, or the slot of a dead
/// process, by CAS on the identity word, then writes its boot tag and reference count; it is the only writer of
/// its slot until it clears the identity again. One slot per process: further handles in the same process only
/// count up <c>references</c>, under <see cref="s_attachLock"/>.
/// </para>
/// <para>
/// Liveness. Each handle of an attached process holds a shared open-file-description lock on the first byte of its
/// process's slot (see <see cref="OfdLocks"/>), taken before the slot is claimed and dropped by the kernel when the
/// handle closes or the process dies. A slot is live while another handle holds that lock: no pid is interpreted, so
/// the answer holds across PID namespaces and containers that share the segment. A role holder (journal writer,
/// cursor, ring end) is attached to the segment it holds a role in, so it is alive while its slot is.
/// </para>
/// <para>
/// Removal is a Dekker handshake on two full fences: an attacher takes its lock and CASes its slot, then reads the
/// removal claim; a remover takes the exclusive lock on the claim's first byte and CASes the claim, then reads the
/// slots. Whatever the interleaving, at least one of them sees the other: the attacher backs off and retries, or the
/// remover finds a live slot and withdraws. A claim whose byte nobody locks was left by a remover that died: the next
/// process that finds it takes it over or clears it.
/// </para>
/// </summary>
internal readonly unsafe struct ProcessTable
{
    /// <summary>Serialises attach/detach within this process, so that one process never claims two slots.</summary>
    private static readonly Lock s_attachLock = new();

    private readonly byte* _header;
    private readonly SafeFileDescriptor _descriptor;
    private readonly string _segmentName;

    /// <param name="header">The mapped header.</param>
    /// <param name="descriptor">A descriptor of the segment's file: the one the handle holds its lock through, or any (read-only is enough) to look.</param>
    /// <param name="segmentName">For errors.</param>
    internal ProcessTable(byte* header, SafeFileDescriptor descriptor, string segmentName)
    {
        _header = header;
        _descriptor = descriptor;
        _segmentName = segmentName;
    }

    /// <summary>The byte an attached process's handles lock (shared) while attached: the first of its slot.</summary>
    internal static long SlotLockOffset(int slot) => L.ProcessTableOffset + ((long)slot * L.ProcessSlotSize);

    /// <summary>The byte a remover locks (exclusive) while it holds the removal claim: the first of the claim.</summary>
    internal const long RemovalLockOffset = L.RemovalClaimOffset;

    private ref ulong RemovalClaim => ref Unsafe.AsRef<ulong>(_header + L.RemovalClaimOffset);

    private ref ulong Identity(int slot) => ref Unsafe.AsRef<ulong>(_header + L.ProcessTableOffset + (slot * L.ProcessSlotSize) + L.SlotIdentityOffset);

    private ref uint BootTag(int slot) => ref Unsafe.AsRef<uint>(_header + L.ProcessTableOffset + (slot * L.ProcessSlotSize) + L.SlotBootTagOffset);

    private ref int References(int slot) => ref Unsafe.AsRef<int>(_header + L.ProcessTableOffset + (slot * L.ProcessSlotSize) + L.SlotReferencesOffset);

    /// <summary>
    /// Records one more reference of <paramref name="me"/> and returns its slot, or -1 when a live remover holds the
    /// removal claim (the segment is about to be unlinked: the caller must reopen it by name).
    /// </summary>
    internal int Attach(ProcessIdentity me, string segmentName)
    {
        lock (s_attachLock)
        {
            int slot = FindOrClaimSlot(me, segmentName);
            // Pairs with the CAS in TryClaimRemoval: the slot CAS above is a full fence, so this read cannot be
            // satisfied before the slot is visible to a remover. A claim whose byte nobody locks is a dead remover's.
            ulong claim = Volatile.Read(ref RemovalClaim);
            if (claim == Removed || (claim != 0 && !ClearIfDead(claim)))
            {
                ReleaseLocked(slot);
                return -1;
            }
            return slot;
        }
    }

    /// <summary>Drops one reference of this process; returns the references it still holds.</summary>
    internal int Release(int slot)
    {
        lock (s_attachLock)
        {
            return ReleaseLocked(slot);
        }
    }

    /// <summary>
    /// The removal claim's value once the name is unlinked: permanent, whoever set it and whether it lives. A claim
    /// that a dead remover left is cleared by the next attacher, which is right while the name still leads here and
    /// wrong after: that attacher (who opened the file before the unlink) would use a segment nobody else can find.
    /// </summary>
    internal const ulong Removed = ulong.MaxValue;

    /// <summary>Marks the segment as unlinked for good: every later attach fails, and its caller opens the name afresh.</summary>
    internal void MarkRemoved() => Interlocked.Exchange(ref RemovalClaim, Removed);

    /// <summary>
    /// Takes the removal claim if no live process is attached. True: the caller now owns the segment's removal and
    /// must unlink it, and holds the claim's lock until its descriptor closes. False: someone is attached (or removing
    /// it already); nothing changed.
    /// </summary>
    internal bool TryClaimRemoval(ProcessIdentity me)
    {
        // While we hold this lock no other remover is live: any claim standing is a dead one's, and ours to take over.
        if (!OfdLocks.TryLockExclusive(_descriptor, RemovalLockOffset, _segmentName))
        {
            return false;
        }
        ulong mine = me.Packed;
        while (true)
        {
            ulong claim = Volatile.Read(ref RemovalClaim);
            if (claim == Removed)
            {
                OfdLocks.Unlock(_descriptor, RemovalLockOffset);
                return false;
            }
            // Full fence; pairs with the removal-claim read in Attach.
            if (claim == mine || Interlocked.CompareExchange(ref RemovalClaim, mine, claim) == claim)
            {
                break;
            }
        }
        if (CountLive(out _) == 0)
        {
            return true;
        }
        Interlocked.CompareExchange(ref RemovalClaim, 0, mine);
        OfdLocks.Unlock(_descriptor, RemovalLockOffset);
        return false;
    }

    /// <summary>
    /// Whether the process recorded as <paramref name="identity"/> (a role holder, a lock holder) is alive and attached
    /// here: this process, or the holder of a slot that another handle keeps locked. A process not attached holds nothing.
    /// </summary>
    internal bool IsAlive(ulong identity)
    {
        if (identity == 0)
        {
            return false;
        }
        if (identity == ProcessIdentity.Current.Packed)
        {
            return true;
        }
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            if (Volatile.Read(ref Identity(slot)) == identity && IsSlotHeld(slot, identity))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Live attached processes, and the references they hold (a slot being claimed counts one).</summary>
    internal int CountLive(out int references)
    {
        int live = 0;
        references = 0;
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            ulong identity = Volatile.Read(ref Identity(slot));
            if (identity != 0 && IsSlotHeld(slot, identity))
            {
                live++;
                references += Math.Max(1, Volatile.Read(ref References(slot)));
            }
        }
        return live;
    }

    /// <summary>A snapshot of every occupied slot, live or dead, for inspection.</summary>
    internal List<AttachedProcess> Snapshot()
    {
        var processes = new List<AttachedProcess>();
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            ulong identity = Volatile.Read(ref Identity(slot));
            if (identity != 0)
            {
                var process = ProcessIdentity.Unpack(identity, Volatile.Read(ref BootTag(slot)));
                processes.Add(new AttachedProcess(process, Volatile.Read(ref References(slot)), IsSlotHeld(slot, identity)));
            }
        }
        return processes;
    }

    /// <summary>The removal claimant, if a process holds the claim.</summary>
    internal ProcessIdentity? RemovalClaimant
    {
        get
        {
            ulong claim = Volatile.Read(ref RemovalClaim);
            return claim is 0 or Removed ? null : ProcessIdentity.Unpack(claim, 0);
        }
    }

    /// <summary>Whether slot <paramref name="slot"/>, recorded as <paramref name="identity"/>, is held: ours, or locked by another handle.</summary>
    private bool IsSlotHeld(int slot, ulong identity) =>
        identity == ProcessIdentity.Current.Packed || OfdLocks.IsLockedByOther(_descriptor, SlotLockOffset(slot), _segmentName);

    private int FindOrClaimSlot(ProcessIdentity me, string segmentName)
    {
        ulong mine = me.Packed;
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            if (Volatile.Read(ref Identity(slot)) == mine)
            {
                OfdLocks.LockShared(_descriptor, SlotLockOffset(slot), segmentName); // this handle's own, beside the others'
                Interlocked.Increment(ref References(slot));
                return slot;
            }
        }
        // First a free slot, then one whose process died: reclaiming costs a liveness check per slot.
        for (int pass = 0; pass < 2; pass++)
        {
            for (int slot = 0; slot < L.ProcessSlotCount; slot++)
            {
                ulong seen = Volatile.Read(ref Identity(slot));
                bool usable = pass == 0
                    ? seen == 0
                    : seen != 0 && !IsSlotHeld(slot, seen);
                if (!usable)
                {
                    continue;
                }
                // Locked before it is ours: nobody who sees our identity there can find the slot unlocked.
                OfdLocks.LockShared(_descriptor, SlotLockOffset(slot), segmentName);
                if (seen != 0)
                {
                    Volatile.Write(ref BootTag(slot), 0); // never the dead owner's tag beside our identity (see ProcessClaim)
                }
                if (Interlocked.CompareExchange(ref Identity(slot), mine, seen) == seen)
                {
                    if (CrashPoints.Armed)
                    {
                        CrashPoints.Reach(CrashPoints.SegmentAttachAfterSlot);
                    }
                    Volatile.Write(ref BootTag(slot), me.BootTag);
                    Volatile.Write(ref References(slot), 1);
                    return slot;
                }
                OfdLocks.Unlock(_descriptor, SlotLockOffset(slot)); // another claimant won it
            }
        }
        throw new CapacityExhaustedException(
            "The table of attached processes is full.", segmentName,
            expected: $"a free slot among {L.ProcessSlotCount}", found: $"{L.ProcessSlotCount} live processes attached");
    }

    private int ReleaseLocked(int slot)
    {
        Debug.Assert(Volatile.Read(ref Identity(slot)) == ProcessIdentity.Current.Packed, "releasing a slot this process does not own");
        int remaining = Interlocked.Decrement(ref References(slot));
        if (remaining <= 0)
        {
            // Boot tag first: a later claimant must never inherit a stale tag next to its own identity.
            Volatile.Write(ref BootTag(slot), 0);
            // Full fence; a remover scanning after this sees the slot free.
            Interlocked.Exchange(ref Identity(slot), 0);
        }
        // This handle's own lock, after the slot is free (or still held by the process's other handles, with theirs).
        OfdLocks.Unlock(_descriptor, SlotLockOffset(slot));
        return Math.Max(remaining, 0);
    }

    /// <summary>Clears a removal claim whose claimant died (nobody holds its lock); true when there is no claim any more.</summary>
    private bool ClearIfDead(ulong claim)
    {
        if (OfdLocks.IsLockedByOther(_descriptor, RemovalLockOffset, _segmentName))
        {
            return false;
        }
        Interlocked.CompareExchange(ref RemovalClaim, 0, claim);
        return Volatile.Read(ref RemovalClaim) == 0;
    }
}
