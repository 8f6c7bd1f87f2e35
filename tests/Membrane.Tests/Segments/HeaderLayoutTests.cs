using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Tests.Segments;

public class HeaderLayoutTests
{
    /// <summary>Every header field: its C# name, its C name in docs/membrane.h, its documented offset.</summary>
    public static TheoryData<string, string, int> Fields => new()
    {
        { nameof(SegmentHeader.Magic), "magic", L.MagicOffset },
        { nameof(SegmentHeader.LayoutVersion), "layout_version", L.LayoutVersionOffset },
        { nameof(SegmentHeader.Kind), "kind", L.KindOffset },
        { nameof(SegmentHeader.HeaderSize), "header_size", L.HeaderSizeOffset },
        { nameof(SegmentHeader.TotalSize), "total_size", L.TotalSizeOffset },
        { nameof(SegmentHeader.PayloadOffset), "payload_offset", L.PayloadOffsetOffset },
        { nameof(SegmentHeader.PayloadSize), "payload_size", L.PayloadSizeOffset },
        { nameof(SegmentHeader.TypeFingerprint), "type_fingerprint", L.TypeFingerprintOffset },
        { nameof(SegmentHeader.State), "state", L.StateOffset },
        { nameof(SegmentHeader.ProcessSlotCount), "process_slot_count", L.ProcessSlotCountOffset },
        { nameof(SegmentHeader.CreatorIdentity), "creator_identity", L.CreatorIdentityOffset },
        { nameof(SegmentHeader.CreatorBootTag), "creator_boot_tag", L.CreatorBootTagOffset },
        { nameof(SegmentHeader.PayloadTypeSize), "payload_type_size", L.PayloadTypeSizeOffset },
        { nameof(SegmentHeader.CreatedUnixNanoseconds), "created_unix_ns", L.CreatedUnixNanosecondsOffset },
        { nameof(SegmentHeader.RemovalClaim), "removal_claim", L.RemovalClaimOffset },
        { nameof(SegmentHeader.Flags), "flags", L.FlagsOffset },
        { nameof(SegmentHeader.TypeName), "type_name", L.TypeNameOffset },
    };

    [Theory]
    [MemberData(nameof(Fields))]
    public void Header_field_sits_at_its_documented_offset(string field, string cName, int offset)
    {
        _ = cName;
        Assert.Equal(offset, (int)Marshal.OffsetOf<SegmentHeader>(field));
    }

    [Fact]
    public void Header_fills_exactly_one_page_so_payloads_start_page_aligned()
    {
        Assert.Equal(4096, L.Size);
        Assert.Equal(L.Size, Unsafe.SizeOf<SegmentHeader>());
        Assert.Equal(L.Size, L.ProcessTableOffset + (L.ProcessSlotCount * L.ProcessSlotSize));
    }

    [Fact]
    public void Magic_number_spells_MEMBRANE_in_memory()
    {
        Span<byte> bytes = stackalloc byte[8];
        BitConverter.TryWriteBytes(bytes, L.Magic);
        Assert.Equal("MEMBRANE", Encoding.ASCII.GetString(bytes));
    }

    [Fact]
    public void C_header_agrees_with_the_CSharp_layouts_byte_for_byte()
    {
        var source = new StringBuilder("#include \"membrane.h\"\n");
        void Check(string expression, long value) =>
            source.Append(CultureInfo.InvariantCulture, $"_Static_assert({expression} == {value}, \"{expression}\");\n");
        foreach (object[] row in Fields)
        {
            Check($"offsetof(struct membrane_segment_header, {row[1]})", (int)row[2]);
        }
        Check("offsetof(struct membrane_segment_header, processes)", L.ProcessTableOffset);
        Check("sizeof(struct membrane_segment_header)", L.Size);
        Check("sizeof(struct membrane_process_slot)", L.ProcessSlotSize);
        Check("offsetof(struct membrane_process_slot, boot_tag)", L.SlotBootTagOffset);
        Check("offsetof(struct membrane_process_slot, references)", L.SlotReferencesOffset);
        Check("MEMBRANE_PROCESS_SLOTS", L.ProcessSlotCount);
        Check("MEMBRANE_LAYOUT_VERSION", L.LayoutVersion);
        Check("MEMBRANE_WAITER_COUNTING_IN", Membrane.Sync.WaiterCount.CountingIn);
        Check("MEMBRANE_WAITERS(0x7FFFFFFF)", Membrane.Sync.WaiterCount.Waiters(0x7FFFFFFF));
        source.Append(CultureInfo.InvariantCulture, $"_Static_assert(MEMBRANE_REMOVED == 0x{ProcessTable.Removed:x16}ULL, \"removed\");\n");
        Check("MEMBRANE_CREATION_LOCK_BYTE", SharedSegment.CreatorLockOffset);
        Check("MEMBRANE_REMOVAL_LOCK_BYTE", ProcessTable.RemovalLockOffset);
        Check("MEMBRANE_SLOT_LOCK_BYTE(239)", ProcessTable.SlotLockOffset(239));
        source.Append(CultureInfo.InvariantCulture, $"_Static_assert(MEMBRANE_MAGIC == 0x{L.Magic:x16}ULL, \"magic\");\n");
        foreach (SegmentKind kind in Enum.GetValues<SegmentKind>().Where(k => k != SegmentKind.None))
        {
            string cKind = string.Concat(kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();
            Check($"MEMBRANE_KIND_{cKind}", (int)kind);
        }

        Check("offsetof(struct membrane_arc, holder_identity)", Membrane.Arcs.ArcLayout.HolderOffset);
        Check("offsetof(struct membrane_arc, sequence)", Membrane.Arcs.ArcLayout.SequenceOffset);
        Check("offsetof(struct membrane_arc, owner_died_count)", Membrane.Arcs.ArcLayout.OwnerDiedCountOffset);
        Check("sizeof(struct membrane_arc)", Membrane.Arcs.ArcLayout.ValueOffset);
        Check("MEMBRANE_ARC_MUTEX_SIZE", Membrane.Native.Interop.PThreadMutexReservedSize);
        Check("offsetof(struct membrane_journal, write_position)", JournalLayout.WritePositionOffset);
        Check("offsetof(struct membrane_journal, readers_signal)", JournalLayout.ReadersSignalOffset);
        Check("offsetof(struct membrane_journal, writer_identity)", JournalLayout.WriterIdentityOffset);
        Check("offsetof(struct membrane_journal, writer_boot_tag)", JournalLayout.WriterBootTagOffset);
        Check("offsetof(struct membrane_journal, slot_size)", JournalLayout.SlotSizeOffset);
        Check("offsetof(struct membrane_journal, slot_stride)", JournalLayout.SlotStrideOffset);
        Check("offsetof(struct membrane_journal, capacity)", JournalLayout.CapacityOffset);
        Check("offsetof(struct membrane_journal, cursor_count)", JournalLayout.CursorCountOffset);
        Check("offsetof(struct membrane_journal, policy)", JournalLayout.PolicyOffset);
        Check("offsetof(struct membrane_journal, slots_offset)", JournalLayout.SlotsOffsetOffset);
        Check("offsetof(struct membrane_journal, writers)", JournalLayout.WritersOffset);
        Check("offsetof(struct membrane_journal, writer_slots)", JournalLayout.WriterSlotsOffset);
        Check("sizeof(struct membrane_journal_writer)", JournalLayout.WriterSlotSize);
        Check("offsetof(struct membrane_journal_writer, identity)", JournalLayout.WriterSlotIdentityOffset);
        Check("offsetof(struct membrane_journal_writer, boot_tag)", JournalLayout.WriterSlotBootTagOffset);
        Check("offsetof(struct membrane_journal_writer, claiming)", JournalLayout.WriterSlotClaimingOffset);
        Check("MEMBRANE_JOURNAL_NOT_CLAIMING", JournalLayout.NotClaiming);
        Check("MEMBRANE_JOURNAL_MANY_WRITERS", (int)JournalWriters.Many);
        Check("offsetof(struct membrane_journal, parked_readers)", JournalLayout.ParkedReadersOffset);
        Check("offsetof(struct membrane_journal, writer_parked)", JournalLayout.WriterParkedOffset);
        Check("offsetof(struct membrane_journal, commit_epoch)", JournalLayout.CommitEpochOffset);
        Check("offsetof(struct membrane_journal, registration_epoch)", JournalLayout.RegistrationEpochOffset);
        Check("offsetof(struct membrane_journal, cursors)", JournalLayout.CursorTableOffset);
        Check("sizeof(struct membrane_journal_cursor)", JournalLayout.CursorSize);
        Check("offsetof(struct membrane_journal_cursor, committed)", JournalLayout.CursorCommittedOffset);
        Check("offsetof(struct membrane_journal_cursor, owner_identity)", JournalLayout.CursorOwnerOffset);
        Check("offsetof(struct membrane_journal_cursor, state)", JournalLayout.CursorStateOffset);
        Check("offsetof(struct membrane_journal_cursor, owner_boot_tag)", JournalLayout.CursorOwnerBootTagOffset);
        Check("offsetof(struct membrane_journal_cursor, waiting)", JournalLayout.CursorWaitingOffset);
        Check("offsetof(struct membrane_journal_cursor, name)", JournalLayout.CursorNameOffset);
        Check("MEMBRANE_JOURNAL_CURSOR_NAME_SIZE", JournalLayout.CursorNameSize);
        Check("offsetof(struct membrane_journal_slot, stamp)", JournalLayout.SlotStampOffset);
        Check("offsetof(struct membrane_journal_slot, length)", JournalLayout.SlotLengthOffset);
        Check("sizeof(struct membrane_journal_slot)", JournalLayout.SlotHeaderSize);
        Check("MEMBRANE_JOURNAL_WRITING_STAMP(41)", JournalLayout.WritingStamp(41));
        Check("MEMBRANE_JOURNAL_COMPLETE_STAMP(41)", JournalLayout.CompleteStamp(41));
        Check("MEMBRANE_JOURNAL_LOST_GAP", unchecked((uint)JournalLayout.LostGapLength));
        Check("MEMBRANE_JOURNAL_ABORTED_GAP", unchecked((uint)JournalLayout.AbortedGapLength));
        Check("MEMBRANE_OVERRUN_BLOCK", (int)OverrunPolicy.Block);
        Check("MEMBRANE_CURSOR_REGISTERED", JournalCursor.Registered);
        foreach ((string field, int offset) in new[]
        {
            ("tail", RingLayout.TailOffset), ("producer_closed", RingLayout.ProducerClosedOffset),
            ("producer_identity", RingLayout.ProducerIdentityOffset), ("producer_boot_tag", RingLayout.ProducerBootTagOffset),
            ("head", RingLayout.HeadOffset), ("consumer_closed", RingLayout.ConsumerClosedOffset),
            ("consumer_identity", RingLayout.ConsumerIdentityOffset), ("consumer_boot_tag", RingLayout.ConsumerBootTagOffset),
            ("consumer_waiting", RingLayout.ConsumerWaitingOffset), ("producer_waiting", RingLayout.ProducerWaitingOffset),
            ("consumer_parks", RingLayout.ConsumerParksOffset), ("consumer_wakes", RingLayout.ConsumerWakesOffset),
            ("producer_parks", RingLayout.ProducerParksOffset), ("producer_wakes", RingLayout.ProducerWakesOffset),
            ("capacity", RingLayout.CapacityOffset), ("max_message", RingLayout.MaxMessageOffset),
        })
        {
            Check($"offsetof(struct membrane_ring, {field})", offset);
        }
        Check("MEMBRANE_RING_DATA_OFFSET", RingLayout.DataOffset);
        foreach ((string field, int offset) in new[]
        {
            ("tail", QueueLayout.TailOffset), ("head", QueueLayout.HeadOffset), ("consumer_closed", QueueLayout.ConsumerClosedOffset),
            ("consumer_identity", QueueLayout.ConsumerIdentityOffset), ("consumer_boot_tag", QueueLayout.ConsumerBootTagOffset),
            ("released", QueueLayout.ReleasedOffset), ("consumer_waiting", QueueLayout.ConsumerWaitingOffset), ("commit_signal", QueueLayout.CommitSignalOffset),
            ("producers_waiting", QueueLayout.ProducersWaitingOffset), ("capacity", QueueLayout.CapacityOffset),
            ("consumer_parks", QueueLayout.ConsumerParksOffset), ("consumer_wakes", QueueLayout.ConsumerWakesOffset),
            ("producers_parks", QueueLayout.ProducersParksOffset), ("producers_wakes", QueueLayout.ProducersWakesOffset),
            ("max_message", QueueLayout.MaxMessageOffset), ("producer_slots", QueueLayout.ProducerSlotsOffset),
            ("aborted_claims", QueueLayout.AbortedClaimsOffset),
        })
        {
            Check($"offsetof(struct membrane_queue, {field})", offset);
        }
        foreach ((string field, int offset) in new[]
        {
            ("identity", QueueLayout.SlotIdentityOffset), ("boot_tag", QueueLayout.SlotBootTagOffset), ("generation", QueueLayout.SlotGenerationOffset),
            ("claim_start", QueueLayout.SlotClaimStartOffset), ("claim_end", QueueLayout.SlotClaimEndOffset),
        })
        {
            Check($"offsetof(struct membrane_queue_producer_slot, {field})", offset);
        }
        Check("MEMBRANE_QUEUE_SLOT_TABLE_OFFSET", QueueLayout.SlotTableOffset);
        Check("MEMBRANE_QUEUE_DATA_OFFSET(3)", QueueLayout.DataOffset(3));
        Check("sizeof(struct membrane_queue_record)", QueueLayout.RecordHeaderSize);
        Check("MEMBRANE_QUEUE_RECORD_CLAIMED", QueueLayout.ClaimedKind);
        Check("MEMBRANE_QUEUE_RECORD_MESSAGE", QueueLayout.MessageKind);
        Check("MEMBRANE_QUEUE_RECORD_PADDING", QueueLayout.PaddingKind);
        Check("MEMBRANE_QUEUE_RECORD_ABORTED", QueueLayout.AbortedKind);
        Check("MEMBRANE_QUEUE_TAG_KIND(0x12345)", QueueLayout.Kind((ulong)0x12345 << 32));
        Check("MEMBRANE_QUEUE_TAG_SLOT(0x12345)", QueueLayout.Slot((ulong)0x12345 << 32));
        Check("MEMBRANE_QUEUE_TAG_GENERATION(0x12345)", 0x12345 >> 14);
        Check("offsetof(struct membrane_ring_record, kind)", RingLayout.RecordKindOffset);
        Check("sizeof(struct membrane_ring_record)", RingLayout.RecordHeaderSize);
        Check("MEMBRANE_RING_RECORD_MESSAGE", RingLayout.MessageKind);
        Check("MEMBRANE_RING_RECORD_PADDING", RingLayout.PaddingKind);
        Check("MEMBRANE_RING_RECORD_FIRST_PART", RingLayout.FirstPartKind);
        Check("MEMBRANE_RING_RECORD_PART", RingLayout.PartKind);
        Check("MEMBRANE_RING_RECORD_ABORTED", RingLayout.AbortedKind);
        source.Append("#include <pthread.h>\n_Static_assert(sizeof(pthread_mutex_t) <= MEMBRANE_ARC_MUTEX_SIZE, \"pthread_mutex_t fits\");\n");

        (int exitCode, string output) = CCompiler.CheckSyntax(source.ToString());

        Assert.True(exitCode == 0, output);
    }
}
