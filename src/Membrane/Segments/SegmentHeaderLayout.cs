namespace Membrane.Segments;

/// <summary>
/// The descriptor of the common header every Membrane segment begins with: offsets, sizes and constants, written
/// down once and asserted in tests and docs/LAYOUT.md. All integers are little-endian.
/// <code>
///  0x000 +--------------------------------------------------------------+
///        | magic "MEMBRANE" | version | kind | header size | total size |
///        | payload offset | payload size | type fingerprint | state ... |
///        | creator identity | boot | type size | created | removal claim |
///        | flags | reserved (zero)                                         |
///  0x080 | payload type name (64 bytes UTF-8, NUL padded)               |
///  0x100 +--------------------------------------------------------------+
///        | process table: 240 slots x 16 bytes                          |
///        |   [identity u64 | boot tag u32 | references u32]             |
///  0x1000+--------------------------------------------------------------+
///        | payload (kind specific), page aligned                        |
///        +--------------------------------------------------------------+
/// </code>
/// </summary>
internal static class SegmentHeaderLayout
{
    /// <summary>"MEMBRANE" in ASCII, read as a little-endian 64-bit integer.</summary>
    internal const ulong Magic = 0x454E_4152_424D_454D;

    /// <summary>Raised whenever any shared layout changes in a way an older reader would misread.</summary>
    internal const ushort LayoutVersion = 5;

    internal const int CacheLine = 64;
    internal const int PageSize = 4096;

    internal const int MagicOffset = 0x00;
    internal const int LayoutVersionOffset = 0x08;
    internal const int KindOffset = 0x0A;
    internal const int HeaderSizeOffset = 0x0C;
    internal const int TotalSizeOffset = 0x10;
    internal const int PayloadOffsetOffset = 0x18;
    internal const int PayloadSizeOffset = 0x20;
    internal const int TypeFingerprintOffset = 0x28;
    internal const int StateOffset = 0x30;
    internal const int ProcessSlotCountOffset = 0x34;
    internal const int CreatorIdentityOffset = 0x38;
    internal const int CreatorBootTagOffset = 0x40;
    internal const int PayloadTypeSizeOffset = 0x44;
    internal const int CreatedUnixNanosecondsOffset = 0x48;
    internal const int RemovalClaimOffset = 0x50;
    internal const int FlagsOffset = 0x58;
    internal const int TypeNameOffset = 0x80;
    internal const int TypeNameSize = 64;

    internal const int ProcessTableOffset = 0x100;
    internal const int ProcessSlotSize = 16;
    internal const int ProcessSlotCount = 240;

    internal const int SlotIdentityOffset = 0;
    internal const int SlotBootTagOffset = 8;
    internal const int SlotReferencesOffset = 12;

    /// <summary>The header fills exactly one page, so every payload starts page aligned.</summary>
    internal const int Size = ProcessTableOffset + (ProcessSlotCount * ProcessSlotSize);

    /// <summary>The largest payload a segment holds: 1 TiB. Sizes from options and headers are checked against it.</summary>
    internal const long MaxPayloadSize = 1L << 40;

    /// <summary>The bytes a segment with <paramref name="payloadSize"/> bytes of payload occupies: header + payload, whole pages.</summary>
    internal static long TotalSizeFor(long payloadSize) => checked(Size + RoundUpToPage(payloadSize));

    internal static long RoundUpToPage(long size) => checked(size + PageSize - 1) & ~(long)(PageSize - 1);
}
