using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

/// <summary>
/// The common header, as it lies in shared memory. The creator writes every field once, between moving
/// <see cref="State"/> from Blank to Initialising (which publishes <see cref="CreatorIdentity"/>) and from
/// Initialising to Ready (a CAS, full fence: an opener that reads Ready with acquire semantics sees every field).
/// After that only <see cref="State"/> (repair), <see cref="RemovalClaim"/> and the process table change.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = L.Size)]
internal struct SegmentHeader
{
    [FieldOffset(L.MagicOffset)] public ulong Magic;                          // creator, before Initialising -> Ready
    [FieldOffset(L.LayoutVersionOffset)] public ushort LayoutVersion;         // creator
    [FieldOffset(L.KindOffset)] public ushort Kind;                           // creator
    [FieldOffset(L.HeaderSizeOffset)] public uint HeaderSize;                 // creator
    [FieldOffset(L.TotalSizeOffset)] public long TotalSize;                   // creator
    [FieldOffset(L.PayloadOffsetOffset)] public long PayloadOffset;           // creator
    [FieldOffset(L.PayloadSizeOffset)] public long PayloadSize;               // creator
    [FieldOffset(L.TypeFingerprintOffset)] public ulong TypeFingerprint;      // creator
    [FieldOffset(L.StateOffset)] public int State;                            // creator or repairer, by CAS only
    [FieldOffset(L.ProcessSlotCountOffset)] public uint ProcessSlotCount;     // creator
    [FieldOffset(L.CreatorIdentityOffset)] public ulong CreatorIdentity;      // creator, before the Blank -> Initialising CAS
    [FieldOffset(L.CreatorBootTagOffset)] public uint CreatorBootTag;         // creator, before the Blank -> Initialising CAS
    [FieldOffset(L.PayloadTypeSizeOffset)] public uint PayloadTypeSize;       // creator
    [FieldOffset(L.CreatedUnixNanosecondsOffset)] public long CreatedUnixNanoseconds; // creator
    [FieldOffset(L.RemovalClaimOffset)] public ulong RemovalClaim;            // any process, by CAS only (see ProcessTable)
    [FieldOffset(L.FlagsOffset)] public uint Flags;                            // creator (SegmentFlags)
    [FieldOffset(L.TypeNameOffset)] public TypeNameBytes TypeName;            // creator

    /// <summary>The payload type's name, for messages and <c>membrane inspect</c>; never used to decide compatibility.</summary>
    [InlineArray(L.TypeNameSize)]
    internal struct TypeNameBytes
    {
        private byte _first;
    }
}
