namespace Membrane.Rings;

/// <summary>
/// The descriptor of a shared ring's payload (offsets relative to the payload at 0x1000). Each line is written by
/// one side only; the waiting flags sit apart from the indices so that reading them costs the other side nothing.
/// <code>
///  0x000 | tail i64 (low half: the consumer's futex word) | producer closed i32   | producer, release
///  0x010 | producer identity u64 | producer boot tag u32                         | producer (CAS to claim)
///  0x040 | head i64 (low half: the producer's futex word) | consumer closed i32   | consumer, release
///  0x050 | consumer identity u64 | consumer boot tag u32                         | consumer (CAS to claim)
///  0x080 | consumer waiting i32 | consumer parks u64 | consumer wakes sent u64    | consumer, when parking or waking
///  0x0C0 | producer waiting i32 | producer parks u64 | producer wakes sent u64    | producer, when parking or waking
///  0x100 | capacity i64 | max message i32                                        | creator
///  0x140 | data: capacity bytes of records                                       | producer
/// </code>
/// A record is 8-byte aligned: <c>[length i32 | kind i32 | message (length bytes) | padding to 8]</c>. Kind 1 is a
/// message; kind 2 pads the rest of the ring at the wrap (its length is what remains after its header), so no
/// record straddles the end. A message written in parts is a kind 3 record (the whole message's length as an i64,
/// then its first bytes) followed by kind 4 records (its next bytes) until that length is reached. A kind 5 record (no
/// bytes) ends a message in parts that will never be finished: its producer died in its middle, and the producer that
/// replaced it says so before writing anything else.
/// Tail and head count bytes from the start, never wrap, and are read modulo capacity.
/// </summary>
internal static class RingLayout
{
    internal const int TailOffset = 0x000;
    internal const int ProducerClosedOffset = 0x008;
    internal const int ProducerIdentityOffset = 0x010;
    internal const int ProducerBootTagOffset = 0x018;
    internal const int HeadOffset = 0x040;
    internal const int ConsumerClosedOffset = 0x048;
    internal const int ConsumerIdentityOffset = 0x050;
    internal const int ConsumerBootTagOffset = 0x058;
    internal const int ConsumerWaitingOffset = 0x080;
    internal const int ConsumerParksOffset = 0x088;
    internal const int ConsumerWakesOffset = 0x090;
    internal const int ProducerWaitingOffset = 0x0C0;
    internal const int ProducerParksOffset = 0x0C8;
    internal const int ProducerWakesOffset = 0x0D0;
    internal const int CapacityOffset = 0x100;
    internal const int MaxMessageOffset = 0x108;
    internal const int DataOffset = 0x140;

    internal const int RecordHeaderSize = 8;
    internal const int RecordLengthOffset = 0;
    internal const int RecordKindOffset = 4;
    internal const int MessageKind = 1;
    internal const int PaddingKind = 2;
    internal const int FirstPartKind = 3;
    internal const int PartKind = 4;
    internal const int AbortedKind = 5;

    /// <summary>The first part of a message in parts starts with the whole message's length (i64), then its first bytes.</summary>
    internal const int PartTotalSize = 8;
    internal const int Alignment = 8;

    internal const long MinCapacity = 64;
    internal const long MaxCapacity = 1L << 40;

    /// <summary>The largest message a ring of <paramref name="capacity"/> bytes takes: one that fits even after a wrap's padding.</summary>
    internal static int MaxMessage(long capacity) => (int)Math.Min((capacity / 2) - RecordHeaderSize, int.MaxValue - 64);

    /// <summary>
    /// A record header as the one little-endian word it is in memory (the length at offset 0 is its low half, the kind at
    /// offset 4 its high half), so that each side touches it with one store or one load.
    /// </summary>
    internal static ulong RecordHeader(int length, int kind) => ((ulong)(uint)length << (8 * RecordLengthOffset)) | ((ulong)(uint)kind << (8 * RecordKindOffset));

    internal static int RecordLength(ulong header) => (int)(uint)(header >> (8 * RecordLengthOffset));

    internal static int RecordKind(ulong header) => (int)(uint)(header >> (8 * RecordKindOffset));

    /// <summary>Bytes a record holding <paramref name="length"/> bytes occupies.</summary>
    internal static long RecordSize(int length) => (RecordHeaderSize + (long)length + Alignment - 1) & ~(long)(Alignment - 1);

    internal static long PayloadSize(long capacity) => DataOffset + capacity;
}
