using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Sync;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>
/// One of the writers of a journal with many writers (<see cref="JournalWriters.Many"/>), holding a slot of the writer
/// table. Each append claims the next sequence with one CAS on the write position, then writes its slot.
/// <para>
/// Protocol. A writer reads the write position <c>s</c>; waits until slot <c>s</c> is free for it (its previous lap,
/// <c>s − capacity</c>, complete; under Block, every registered cursor less than a ring behind <c>s</c>); names <c>s</c>
/// in its writer slot (release); then CASes the write position from <c>s</c> to <c>s + 1</c> (a full fence), or starts
/// again at the new position. The winner of <c>s</c> alone writes slot <c>s</c> (the claimant of <c>s + capacity</c>
/// waits for it), stamps it complete, and leaves <c>s</c> named in its writer slot until its next claim. So every sequence
/// below the write position was claimed by a writer whose slot named it before the claim and names it until the sequence
/// is complete: a sequence below the write position, not complete, that no live writer's slot names, was claimed by a
/// writer that died before completing it. Readers skip such a hole as aborted, and the next lap's writer takes its slot,
/// once each has found it so for <see cref="Journal.AbandonedClaimCheck"/>; neither ever waits for a dead writer for good,
/// and a live writer's claim is never skipped.
/// </para>
/// </summary>
[DebuggerDisplay("JournalWriter {Journal.Name} slot {_slot}")]
internal sealed class SharedWriter : JournalWriter
{
    private readonly int _slot;
    private readonly long _capacity;

    internal SharedWriter(Journal journal, TimeSpan blockTimeout)
        : base(journal, blockTimeout)
    {
        _capacity = journal.Capacity;
        _slot = journal.ClaimWriterSlot();
        journal.RepairParkedReaders();
    }

    public override long NextSequence => Volatile.Read(ref Journal.WritePositionRef);

    /// <summary>This writer's slot in the writer table.</summary>
    internal int Slot => _slot;

    [MethodImpl(HotPath.Optimised)]
    private protected override long AppendSlot(ReadOnlySpan<byte> entry, int length)
    {
        CheckLength(entry.Length);
        long sequence = Claim();
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.JournalAppendAfterClaim);
        }
        WriteEntry(sequence, entry, length);
        Appended();
        return sequence;
    }

    private protected override void ReleaseRole() => Journal.ReleaseWriterSlot(_slot);

    /// <summary>Claims the next sequence, once its slot is free for it; see the protocol above.</summary>
    [MethodImpl(HotPath.Inline)]
    private long Claim()
    {
        ref long position = ref Journal.WritePositionRef;
        ref long claiming = ref Journal.WriterSlot(_slot).Claiming;
        long named = claiming; // what this slot names between claims: the sequence it last completed (or none)
        while (true)
        {
            long sequence = Volatile.Read(ref position);
            if (MayNeedRoom(sequence))
            {
                WaitForRoom(sequence);
                continue;
            }
            if (Volatile.Read(ref Journal.StampOf(sequence)) != PreviousLapStamp(sequence) && !WaitForSlot(sequence))
            {
                continue;
            }
            // Named before the claim (a release store, then the CAS's full fence): a reader that finds the sequence
            // claimed finds it named here, until it is complete.
            Volatile.Write(ref claiming, sequence);
            if (Interlocked.CompareExchange(ref position, sequence + 1, sequence) == sequence)
            {
                return sequence;
            }
            // Lost the race: the winner names the sequence in its own slot. Left named here, it would say a live writer
            // holds it even after the winner died, and while this writer then waits (for room from a reader that waits
            // for that very sequence, under Block) neither would ever move: the dead winner's hole would never be skipped.
            Volatile.Write(ref claiming, named);
        }
    }

    /// <summary>The stamp slot <paramref name="sequence"/> holds once its previous lap is complete (0 on the first lap).</summary>
    private long PreviousLapStamp(long sequence) => sequence >= _capacity ? L.CompleteStamp(sequence - _capacity) : 0;

    /// <summary>
    /// Waits until slot <paramref name="sequence"/> is free for it: its previous lap complete, or claimed by a writer that
    /// died before completing it (a hole). False as soon as another writer claimed <paramref name="sequence"/> (claim the
    /// next one then).
    /// </summary>
    [MethodImpl(HotPath.OutOfLine)]
    private bool WaitForSlot(long sequence)
    {
        long previous = sequence - _capacity;
        if (previous < 0)
        {
            return true; // a first-lap slot that is not blank is damage, which this write repairs: there is nobody to wait for
        }
        var lookout = new ClaimLookout(); // its first look at `previous` notes the time; a look is due 1 ms after
        var spinner = default(SpinWait);
        while (true)
        {
            if (Volatile.Read(ref Journal.WritePositionRef) != sequence)
            {
                return false;
            }
            if (Volatile.Read(ref Journal.StampOf(sequence)) == PreviousLapStamp(sequence))
            {
                return true;
            }
            if (lookout.LookDue(previous))
            {
                // Its claimant names it until it is complete: no live writer naming it, and still not complete, is a hole.
                if (Journal.ClaimAbandoned(previous) && Volatile.Read(ref Journal.StampOf(sequence)) != PreviousLapStamp(sequence))
                {
                    return true;
                }
            }
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }
}
