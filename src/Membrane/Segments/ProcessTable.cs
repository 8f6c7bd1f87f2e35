using Membrane.Diagnostics;
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
/// Removal is a Dekker handshake on two full fences: an attacher CASes its slot, then reads the removal claim; a
/// remover CASes the claim, then reads the slots. Whatever the interleaving, at least one of them sees the other:
/// the attacher backs off and retries, or the remover finds a live slot and withdraws. A claim left by a remover
/// that died is taken over or cleared by the next process that finds it.
/// </para>
/// </summary>
internal readonly unsafe struct ProcessTable
{
    /// <summary>Serialises attach/detach within this process, so that one process never claims two slots.</summary>
    private static readonly Lock s_attachLock = new();

    private readonly byte* _header;

    internal ProcessTable(byte* header) => _header = header;

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
            // satisfied before the slot is visible to a remover.
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
    /// must unlink it. False: someone is attached (or removing it already); nothing changed.
    /// </summary>
    internal bool TryClaimRemoval(ProcessIdentity me)
    {
        ulong mine = me.Packed;
        while (true)
        {
            ulong claim = Volatile.Read(ref RemovalClaim);
            if (claim == mine)
            {
                break;
            }
            if (claim == Removed || (claim != 0 && ProcessIdentity.Unpack(claim, 0).IsAlive()))
            {
                return false;
            }
            // Full fence; pairs with the removal-claim read in Attach.
            if (Interlocked.CompareExchange(ref RemovalClaim, mine, claim) == claim)
            {
                break;
            }
        }
        if (CountLive(out _) == 0)
        {
            return true;
        }
        Interlocked.CompareExchange(ref RemovalClaim, 0, mine);
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
            if (identity != 0 && ProcessIdentity.Unpack(identity, Volatile.Read(ref BootTag(slot))).IsAlive())
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
                processes.Add(new AttachedProcess(process, Volatile.Read(ref References(slot)), process.IsAlive()));
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

    private int FindOrClaimSlot(ProcessIdentity me, string segmentName)
    {
        ulong mine = me.Packed;
        for (int slot = 0; slot < L.ProcessSlotCount; slot++)
        {
            if (Volatile.Read(ref Identity(slot)) == mine)
            {
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
                    : seen != 0 && !ProcessIdentity.Unpack(seen, Volatile.Read(ref BootTag(slot))).IsAlive();
                if (!usable)
                {
                    continue;
                }
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
        return Math.Max(remaining, 0);
    }

    /// <summary>Clears a removal claim whose claimant died; true when there is no claim any more.</summary>
    private bool ClearIfDead(ulong claim)
    {
        if (ProcessIdentity.Unpack(claim, 0).IsAlive())
        {
            return false;
        }
        Interlocked.CompareExchange(ref RemovalClaim, 0, claim);
        return Volatile.Read(ref RemovalClaim) == 0;
    }
}
