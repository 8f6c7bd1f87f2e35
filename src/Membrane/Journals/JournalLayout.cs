using System.Numerics;

namespace Membrane.Journals;

/// <summary>
/// The descriptor of a journal segment's payload (offsets relative to the payload at 0x1000).
/// <code>
///  0x000 | write position i64: one writer: published (release); many: the   | writer(s)
///        |   next sequence to claim (CAS)                                    |
///  0x008 | readers' signal i64 (low half: the readers' futex word)          | writer(s), when a reader is parked
///  0x040 | writer identity u64 | writer boot tag u32 (one writer only)       | writer claim (CAS)
///  0x080 | slot size u32 | slot stride u32 | capacity u64 | cursors u32 |     | creator
///        | policy u32 | slots offset u64 | writers u32 | writer slots u32   |
///  0x0C0 | parked readers i32 | writer parked i32 | commit epoch i32 |         | readers / writer
///        | registration epoch i32                                            |
///  0x100 | cursor table: cursors x 64 bytes, one cache line each             | each reader its own
///        |   [committed position u64 | owner identity u64 | state u32 |      |
///        |    owner boot tag u32 | waiting u32 | reserved u32 | name 32 B]  |
///  +     | writer table (many writers): writer slots x 64 bytes              | each writer its own
///        |   [identity u64 | boot tag u32 | reserved u32 | claiming i64]     |
///  slots | capacity x stride:                                                 | writer(s)
///        |   [stamp u64 | length u32 | reserved u32 | entry (slot size)]     |
/// </code>
/// A slot's stamp is 2(s+1)-1 while sequence s is being written into it and 2(s+1) once it is complete: a reader
/// compares it before and after its copy, so an overwritten or half-written entry is never delivered. With many
/// writers, a writer names the sequence it is about to claim in its writer slot before its CAS on the write position,
/// so that a claim whose writer died is told from a live one (see <see cref="SharedWriter"/>).
/// </summary>
internal static class JournalLayout
{
    internal const int CacheLine = 64;

    internal const int WritePositionOffset = 0x000;
    internal const int ReadersSignalOffset = 0x008;
    internal const int WriterIdentityOffset = 0x040;
    internal const int WriterBootTagOffset = 0x048;
    internal const int SlotSizeOffset = 0x080;
    internal const int SlotStrideOffset = 0x084;
    internal const int CapacityOffset = 0x088;
    internal const int CursorCountOffset = 0x090;
    internal const int PolicyOffset = 0x094;
    internal const int SlotsOffsetOffset = 0x098;
    internal const int WritersOffset = 0x0A0;
    internal const int WriterSlotsOffset = 0x0A4;
    internal const int ParkedReadersOffset = 0x0C0;
    internal const int WriterParkedOffset = 0x0C4;
    internal const int CommitEpochOffset = 0x0C8;
    internal const int RegistrationEpochOffset = 0x0CC;
    internal const int CursorTableOffset = 0x100;

    internal const int CursorSize = CacheLine;
    internal const int CursorCommittedOffset = 0;
    internal const int CursorOwnerOffset = 8;
    internal const int CursorStateOffset = 16;
    internal const int CursorOwnerBootTagOffset = 20;
    internal const int CursorWaitingOffset = 24;
    internal const int CursorNameOffset = 32;
    internal const int CursorNameSize = 32;

    internal const int WriterSlotSize = CacheLine;
    internal const int WriterSlotIdentityOffset = 0;
    internal const int WriterSlotBootTagOffset = 8;
    internal const int WriterSlotClaimingOffset = 16;

    /// <summary>A writer slot's <c>claiming</c> when its writer is not claiming or writing any sequence.</summary>
    internal const long NotClaiming = -1;

    internal const int SlotStampOffset = 0;
    internal const int SlotLengthOffset = 8;
    internal const int SlotHeaderSize = 16;

    /// <summary>A complete slot's length field for a sequence given to no entry, lost (a relay's gap; u32 0xFFFFFFFF).</summary>
    internal const int LostGapLength = -1;

    /// <summary>A complete slot's length field for a sequence given to no entry, aborted (a relay's gap; u32 0xFFFFFFFE).</summary>
    internal const int AbortedGapLength = -2;

    internal const int MaxCursors = 1024;
    internal const int MaxWriterSlots = 1024;
    internal const int MaxSlotSize = 1 << 20;

    /// <summary>
    /// The largest sequence a journal holds: its stamps, 2(s+1), must fit a signed 64-bit word. At a billion entries a
    /// second a journal reaches it in 146 years; a write position beyond it is damage.
    /// </summary>
    internal const long MaxSequence = (1L << 62) - 2;

    /// <summary>The most slots a journal has: 2^34, so that even 64-byte slots stay within a segment's 1 TiB.</summary>
    internal const long MaxCapacity = 1L << 34;

    internal static int SlotStride(int slotSize) => (SlotHeaderSize + slotSize + CacheLine - 1) & ~(CacheLine - 1);

    /// <summary>Where the writer table starts: right after the cursor table.</summary>
    internal static long WriterTableOffset(int cursorCount) => CursorTableOffset + ((long)cursorCount * CursorSize);

    internal static long SlotsOffset(int cursorCount, int writerSlots) => WriterTableOffset(cursorCount) + ((long)writerSlots * WriterSlotSize);

    /// <summary>
    /// The payload a journal of this shape needs. With a capacity and slot size within their caps it is exact; with any
    /// other (from a damaged header) it saturates at long.MaxValue rather than wrap to a size that would pass a check.
    /// </summary>
    internal static long PayloadSize(int slotSize, long capacity, int cursorCount, int writerSlots)
    {
        long ring = capacity <= 0 || capacity > long.MaxValue / SlotStride(slotSize) ? long.MaxValue : capacity * SlotStride(slotSize);
        long slots = SlotsOffset(cursorCount, writerSlots);
        return ring > long.MaxValue - slots ? long.MaxValue : slots + ring;
    }

    /// <summary>The stamp of a slot holding the complete entry <paramref name="sequence"/>.</summary>
    internal static long CompleteStamp(long sequence) => 2 * (sequence + 1);

    /// <summary>The stamp of a slot while <paramref name="sequence"/> is being written into it.</summary>
    internal static long WritingStamp(long sequence) => (2 * (sequence + 1)) - 1;

    /// <summary>
    /// The sequence a stamp names (complete or being written), or -1 for a slot never written. Any stamp is one or the other.
    /// </summary>
    internal static long StampedSequence(long stamp) => stamp <= 0 ? -1 : ((stamp + 1) / 2) - 1;

    internal static bool IsPowerOfTwo(long value) => value > 0 && BitOperations.IsPow2(value);
}
