using System.Runtime.InteropServices;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>One slot of a many-writer journal's writer table, one cache line: written only by the writer holding it.</summary>
[StructLayout(LayoutKind.Explicit, Size = L.WriterSlotSize)]
internal struct JournalWriterSlot
{
    [FieldOffset(L.WriterSlotIdentityOffset)] public ulong Identity;   // writer, CAS to take the slot; 0 = free
    [FieldOffset(L.WriterSlotBootTagOffset)] public uint BootTag;      // writer, after the Identity CAS
    [FieldOffset(L.WriterSlotClaimingOffset)] public long Claiming;    // writer, release: the sequence it claims, from before its CAS
                                                                       // on the write position until its next claim; NotClaiming when none
}
