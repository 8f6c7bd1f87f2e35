using Membrane.Diagnostics;

namespace Membrane.Segments;

/// <summary>
/// A role in shared memory that one live process holds at a time (the journal's writer, a journal cursor, a ring's
/// producer or consumer): a packed identity word, 0 when free, claimed by CAS, with the holder's boot tag beside it.
/// A holder that died is replaced by the next claimant; a live one refuses it. A holder is attached to the segment
/// its role is in, so it is judged alive by its slot in that segment's <see cref="ProcessTable"/>.
/// </summary>
internal static class ProcessClaim
{
    /// <summary>Claims the role for this process; null on success, else the live holder (possibly this process) that keeps it.</summary>
    /// <param name="identity">The role's identity word.</param>
    /// <param name="bootTag">The holder's boot tag beside it.</param>
    /// <param name="processes">The segment's process table, which says whether a holder is alive.</param>
    internal static ProcessIdentity? TryClaim(ref ulong identity, ref uint bootTag, in ProcessTable processes)
    {
        ProcessIdentity me = ProcessIdentity.Current;
        while (true)
        {
            ulong current = Volatile.Read(ref identity);
            if (current != 0 && processes.IsAlive(current))
            {
                return ProcessIdentity.Unpack(current, Volatile.Read(ref bootTag));
            }
            // The old holder's boot tag must never stand beside our identity (a tag of another boot would make us look
            // dead, to a process that reads both between our CAS and our tag): 0 means "not recorded", so a reader
            // in between judges us by pid and start time alone. A losing claimant's 0 is as harmless.
            Volatile.Write(ref bootTag, 0);
            // Full fence: the claim is visible before anything the new holder writes next.
            if (Interlocked.CompareExchange(ref identity, me.Packed, current) == current)
            {
                if (CrashPoints.Armed)
                {
                    CrashPoints.Reach(CrashPoints.RoleClaimAfterCas);
                }
                Volatile.Write(ref bootTag, me.BootTag);
                return null;
            }
        }
    }

    /// <summary>The process that holds the role (alive or not), or null when it is free.</summary>
    internal static ProcessIdentity? Holder(ref ulong identity, ref uint bootTag)
    {
        ulong current = Volatile.Read(ref identity);
        return current == 0 ? null : ProcessIdentity.Unpack(current, Volatile.Read(ref bootTag));
    }

    /// <summary>Gives the role up if this process still holds it (a successor that replaced us keeps it).</summary>
    internal static void Release(ref ulong identity) =>
        Interlocked.CompareExchange(ref identity, 0, ProcessIdentity.Current.Packed);
}
