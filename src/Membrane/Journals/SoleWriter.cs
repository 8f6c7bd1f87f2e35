using System.Diagnostics;
using Membrane.Codegen;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;

namespace Membrane.Journals;

/// <summary>
/// The writer of a journal with one writer (<see cref="JournalWriters.One"/>). Appending is wait-free under
/// <see cref="OverrunPolicy.Overwrite"/> and costs no atomic instruction: the sequence is its own, the write position
/// a release store. A writer that died is replaced by the next one, which continues the sequence with no gap and no
/// duplicate (an entry it had not stamped complete is written again under the same sequence).
/// </summary>
[DebuggerDisplay("JournalWriter {Journal.Name} next {_next}")]
internal sealed class SoleWriter : JournalWriter
{
    private long _next;

    internal SoleWriter(Journal journal, TimeSpan blockTimeout)
        : base(journal, blockTimeout)
    {
        journal.Users.Add(journal, ClaimWriterRole);
        journal.RepairParkedReaders();
        _next = journal.CurrentWritePosition;
        if (_next != journal.PublishedWritePosition)
        {
            // A writer died between stamping entries complete and publishing them. Readers deliver on the stamp alone,
            // so those entries may be read and committed already: they are published, never given to another entry.
            Volatile.Write(ref journal.WritePositionRef, _next);
            WakeReaders();
        }
    }

    public override long NextSequence => _next;

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Optimised)]
    private protected override long AppendSlot(ReadOnlySpan<byte> entry, int length)
    {
        CheckLength(entry.Length);
        long sequence = _next;
        if (MayNeedRoom(sequence))
        {
            WaitForRoom(sequence);
        }
        WriteEntry(sequence, entry, length);
        _next = sequence + 1;
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.JournalAppendBeforePublish);
        }
        // A release store (pairs with a reader's acquire of the position): the position is what an opener and a lapped
        // reader go by, the stamps what a reader that keeps up goes by.
        Volatile.Write(ref Journal.WritePositionRef, sequence + 1);
        Appended();
        return sequence;
    }

    private protected override void ReleaseRole() => ProcessClaim.Release(ref Journal.WriterIdentity);

    private void ClaimWriterRole()
    {
        if (ProcessClaim.TryClaim(ref Journal.WriterIdentity, ref Journal.WriterBootTag, Journal.Processes) is { } holder)
        {
            throw new SegmentInUseException("The journal has a live writer already; it takes one writer at a time.", Journal.Name,
                expected: "no live writer", found: $"writer pid {holder.Pid}");
        }
    }
}
