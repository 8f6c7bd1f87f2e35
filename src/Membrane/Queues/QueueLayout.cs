namespace Membrane.Queues;

/// <summary>
/// The descriptor of a shared queue's payload (offsets relative to the payload at 0x1000).
/// <code>
///  0x000 | tail i64: bytes claimed since creation                                  | producers (CAS)
///  0x040 | head i64 (low half: the producers' futex word) | consumer closed i32     | consumer, release
///  0x050 | consumer identity u64 | consumer boot tag u32                           | consumer (CAS to claim)
///  0x060 | released i64: bytes the consumer is done with (ahead of head while it zeroes them) | consumer
///  0x080 | consumer waiting: a waiter count                                        | consumer, when parking
///  0x088 | commit signal i64 (low half: the consumer's futex word)                 | producers, when the consumer waits
///  0x090 | consumer parks u64 | consumer wakes sent u64                           | consumer, when parking or waking
///  0x0C0 | producers waiting: a waiter count                                       | producers, when parking
///  0x0C8 | producers' parks u64 | producers' wakes sent u64 (atomic adds)          | producers, when parking or waking
///  0x100 | capacity i64 | max message i32 | producer slots i32                     | creator
///  0x110 | aborted claims i64                                                      | consumer
///  0x140 | producer slots: 64 bytes each                                           | each its producer
///  data  | capacity bytes of records, at 0x140 + 64 × slots                        | producers, consumer zeroes
/// </code>
/// A producer slot: identity u64 at 0 (CAS to claim), boot tag u32 at 8, generation u32 at 12 (bumped by each producer
/// that takes the slot), claim start i64 at 16 and claim end i64 at 24 (the range it is claiming, start −1 when none).
/// <para>
/// A record is 8-byte aligned: <c>[length i32 | tag i32 | bytes | padding to 8]</c>. The tag is a kind (low 4 bits:
/// 1 claimed, 2 message, 3 padding, 4 aborted) and the claiming producer's slot (next 10 bits) and generation (high 18
/// bits). A header of zero is free space: the consumer zeroes every byte it releases before it returns it (head), so all
/// room ahead of the tail is zero.
/// </para>
/// </summary>
internal static class QueueLayout
{
    internal const int TailOffset = 0x000;
    internal const int HeadOffset = 0x040;
    internal const int ConsumerClosedOffset = 0x048;
    internal const int ConsumerIdentityOffset = 0x050;
    internal const int ConsumerBootTagOffset = 0x058;
    internal const int ReleasedOffset = 0x060;
    internal const int ConsumerWaitingOffset = 0x080;
    internal const int CommitSignalOffset = 0x088;
    internal const int ConsumerParksOffset = 0x090;
    internal const int ConsumerWakesOffset = 0x098;
    internal const int ProducersWaitingOffset = 0x0C0;
    internal const int ProducersParksOffset = 0x0C8;
    internal const int ProducersWakesOffset = 0x0D0;
    internal const int CapacityOffset = 0x100;
    internal const int MaxMessageOffset = 0x108;
    internal const int ProducerSlotsOffset = 0x10C;
    internal const int AbortedClaimsOffset = 0x110;
    internal const int SlotTableOffset = 0x140;

    internal const int SlotSize = 64;
    internal const int SlotIdentityOffset = 0;
    internal const int SlotBootTagOffset = 8;
    internal const int SlotGenerationOffset = 12;
    internal const int SlotClaimStartOffset = 16;
    internal const int SlotClaimEndOffset = 24;

    internal const int RecordHeaderSize = 8;
    internal const int Alignment = 8;
    internal const int ClaimedKind = 1;
    internal const int MessageKind = 2;
    internal const int PaddingKind = 3;
    internal const int AbortedKind = 4;

    private const int KindBits = 4;
    private const int SlotBits = 10;
    internal const int MaxProducerSlots = 1 << SlotBits;
    private const int GenerationMask = (1 << (32 - KindBits - SlotBits)) - 1;

    internal const long MinCapacity = 256;
    internal const long MaxCapacity = 1L << 40;

    internal static int MaxMessage(long capacity) => (int)Math.Min((capacity / 2) - RecordHeaderSize, int.MaxValue - 64);

    internal static long DataOffset(int slots) => SlotTableOffset + ((long)slots * SlotSize);

    internal static long PayloadSize(long capacity, int slots) => DataOffset(slots) + capacity;

    internal static long RecordSize(int length) => (RecordHeaderSize + (long)length + Alignment - 1) & ~(long)(Alignment - 1);

    /// <summary>A record header as the one little-endian word it is: the length its low half, the tag its high half.</summary>
    internal static ulong Header(int length, int kind, int slot, uint generation) =>
        (uint)length | ((ulong)Tag(kind, slot, generation) << 32);

    internal static uint Tag(int kind, int slot, uint generation) =>
        (uint)kind | ((uint)slot << KindBits) | ((generation & GenerationMask) << (KindBits + SlotBits));

    internal static int Length(ulong header) => (int)(uint)header;

    internal static int Kind(ulong header) => (int)((header >> 32) & ((1 << KindBits) - 1));

    internal static int Slot(ulong header) => (int)((header >> (32 + KindBits)) & (MaxProducerSlots - 1));

    internal static bool SameGeneration(ulong header, uint generation) =>
        (uint)(header >> (32 + KindBits + SlotBits)) == (generation & GenerationMask);
}
