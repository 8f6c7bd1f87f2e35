/*
 * Membrane shared-memory layouts, for programs in other languages that read or join Membrane segments.
 * Layout version 4. All integers little-endian; offsets, never pointers. docs/LAYOUT.md explains every field;
 * the test suite compiles this header against the C# layout (offsetof/sizeof), so the two cannot drift apart.
 */
#ifndef MEMBRANE_H
#define MEMBRANE_H

#include <stddef.h>
#include <stdint.h>

#define MEMBRANE_MAGIC 0x454E4152424D454DULL /* "MEMBRANE" read as a little-endian uint64 */
#define MEMBRANE_LAYOUT_VERSION 5
#define MEMBRANE_HEADER_SIZE 4096
#define MEMBRANE_PROCESS_SLOTS 240

/* removal_claim once the segment's name is unlinked: no process attaches any more. */
#define MEMBRANE_REMOVED 0xFFFFFFFFFFFFFFFFULL

/* Liveness: single-byte open-file-description locks (fcntl F_OFD_SETLK) on the segment's file, never on its contents.
 * A process attached in slot i keeps a shared lock on MEMBRANE_SLOT_LOCK_BYTE(i) from each of its handles; a creator
 * an exclusive lock on MEMBRANE_CREATION_LOCK_BYTE of its creation file; a remover one on MEMBRANE_REMOVAL_LOCK_BYTE.
 * Alive means: another open file description holds the byte (F_OFD_GETLK with F_WRLCK finds a conflict). */
#define MEMBRANE_CREATION_LOCK_BYTE 0x038
#define MEMBRANE_REMOVAL_LOCK_BYTE 0x050
#define MEMBRANE_SLOT_LOCK_BYTE(slot) (0x100 + 16 * (slot))

enum membrane_kind {
    MEMBRANE_KIND_RAW = 1,
    MEMBRANE_KIND_ARC = 2,
    MEMBRANE_KIND_JOURNAL = 3,
    MEMBRANE_KIND_RING = 4,
    MEMBRANE_KIND_WRITE_ONCE = 5,
    MEMBRANE_KIND_QUEUE = 6,
};

enum membrane_state {
    MEMBRANE_STATE_BLANK = 0,        /* creator has not started (or died before it did) */
    MEMBRANE_STATE_INITIALISING = 1, /* creator is writing it: do not trust */
    MEMBRANE_STATE_READY = 2,        /* usable; read with acquire ordering */
    MEMBRANE_STATE_ABANDONED = 3,    /* creator died half-way; being removed */
};

#define MEMBRANE_FLAG_REMOVE_WHEN_UNUSED 0x1u

/* A waiter count (parked_readers, consumer_waiting, producer_waiting): the low 16 bits are the waiters counted in, the
   high 16 bits count every counting-in (wrapping), so that a CAS repairing the count fails if a waiter left and came back.
   Count in with an atomic add of MEMBRANE_WAITER_COUNTING_IN, out with an atomic add of -1. */
#define MEMBRANE_WAITER_COUNTING_IN 0x10001
#define MEMBRANE_WAITERS(count) ((count) & 0xFFFF)

/* One attached process. identity = pid | (uint64_t)(start_ticks & 0xffffffff) << 32, 0 = free slot. */
struct membrane_process_slot {
    uint64_t identity;   /* CAS to claim; start_ticks is field 22 of /proc/PID/stat */
    uint32_t boot_tag;   /* first 8 hex digits of /proc/sys/kernel/random/boot_id, 0 = not yet written */
    uint32_t references; /* handles this process holds */
};

struct membrane_segment_header {
    uint64_t magic;
    uint16_t layout_version;
    uint16_t kind;                 /* enum membrane_kind */
    uint32_t header_size;          /* 4096 */
    int64_t total_size;            /* the file's size */
    int64_t payload_offset;        /* 4096 */
    int64_t payload_size;
    uint64_t type_fingerprint;     /* 0 for untyped payloads */
    int32_t state;                 /* enum membrane_state; changed by CAS only */
    uint32_t process_slot_count;   /* 240 */
    uint64_t creator_identity;     /* as in membrane_process_slot */
    uint32_t creator_boot_tag;
    uint32_t payload_type_size;    /* sizeof the payload type, 0 if untyped */
    int64_t created_unix_ns;
    uint64_t removal_claim;        /* identity of a process removing the segment, 0 = none, MEMBRANE_REMOVED once
                                      unlinked; CAS only */
    uint32_t flags;                /* MEMBRANE_FLAG_* */
    uint8_t reserved0[0x80 - 0x5C];
    char type_name[64];            /* UTF-8, NUL padded; informational only */
    uint8_t reserved1[0x100 - 0xC0];
    struct membrane_process_slot processes[MEMBRANE_PROCESS_SLOTS];
};

_Static_assert(sizeof(struct membrane_process_slot) == 16, "process slot is 16 bytes");
_Static_assert(sizeof(struct membrane_segment_header) == MEMBRANE_HEADER_SIZE, "header is one page");

/*
 * Arc payload (kind 2), at payload_offset. The reference count is the sum of `references` over the live slots of the
 * process table. The value is guarded by a robust, process-shared pthread mutex (normal type: see LAYOUT.md) and published to
 * lock-free readers through a sequence lock: odd while a holder may be writing, even when published.
 */
#define MEMBRANE_ARC_MUTEX_SIZE 64 /* room for pthread_mutex_t: 40 bytes on x86_64, 48 on arm64 */

struct membrane_arc {
    uint8_t mutex[MEMBRANE_ARC_MUTEX_SIZE]; /* pthread_mutex_t, PTHREAD_PROCESS_SHARED | ROBUST, type NORMAL */
    uint64_t holder_identity;               /* identity of the lock holder, 0 = none; written by the holder */
    int64_t sequence;                       /* seqlock: odd = value being changed; written by the holder */
    int64_t owner_died_count;               /* lockers that found the previous owner dead; written by the holder */
    uint8_t reserved[0x80 - 0x58];
    /* T value follows at offset 0x80 */
};

_Static_assert(sizeof(struct membrane_arc) == 0x80, "the arc's value starts at payload offset 0x80");

/*
 * Journal payload (kind 3), at payload_offset: one writer (or many), many readers, a power-of-two ring of fixed-size
 * slots. Sequence s lives in slot (s & (capacity - 1)) at slots_offset + index * slot_stride. A slot's stamp is
 * MEMBRANE_JOURNAL_WRITING_STAMP(s) while s is being written and MEMBRANE_JOURNAL_COMPLETE_STAMP(s) once complete.
 * With many writers, the writer table (writer_slots of struct membrane_journal_writer) follows the cursor table.
 */
#define MEMBRANE_JOURNAL_CURSOR_NAME_SIZE 32
#define MEMBRANE_JOURNAL_WRITING_STAMP(s) (2 * ((int64_t)(s) + 1) - 1)
#define MEMBRANE_JOURNAL_COMPLETE_STAMP(s) (2 * ((int64_t)(s) + 1))
/* A complete slot whose length is one of these holds no entry: its sequence is a gap a relay wrote, to be counted as
 * lost (or aborted) with the next entry delivered, as a lapped reader counts what it lost. */
#define MEMBRANE_JOURNAL_LOST_GAP 0xFFFFFFFFu
#define MEMBRANE_JOURNAL_ABORTED_GAP 0xFFFFFFFEu

enum membrane_overrun_policy {
    MEMBRANE_OVERRUN_OVERWRITE = 0, /* the writer never waits; lapped readers are told what they lost */
    MEMBRANE_OVERRUN_BLOCK = 1,     /* the writer waits for the slowest registered cursor */
};

enum membrane_journal_writers {
    MEMBRANE_JOURNAL_ONE_WRITER = 0,   /* writer_identity holds the role; write_position is published by it */
    MEMBRANE_JOURNAL_MANY_WRITERS = 1, /* each writer holds a writer slot; write_position is claimed by CAS */
};

/* A writer slot's claiming when its writer claims nothing. */
#define MEMBRANE_JOURNAL_NOT_CLAIMING (-1)

enum membrane_cursor_state {
    MEMBRANE_CURSOR_FREE = 0,
    MEMBRANE_CURSOR_REGISTERED = 1, /* a reader attached once; Block writers wait for its committed position */
};

struct membrane_journal_cursor {  /* one cache line, written only by the reader attached to it */
    int64_t committed;            /* the next sequence this cursor will read after a restart */
    uint64_t owner_identity;      /* attached reader, as in membrane_process_slot; 0 = none; CAS to attach */
    uint32_t state;               /* enum membrane_cursor_state */
    uint32_t owner_boot_tag;
    uint32_t waiting;             /* non-zero while its reader waits (from before it counts itself in parked_readers
                                     until after it counts itself out), so that a dead reader's count can be taken back */
    uint32_t reserved;
    char name[MEMBRANE_JOURNAL_CURSOR_NAME_SIZE]; /* UTF-8, NUL padded; empty for cursors attached by number */
};

struct membrane_journal_writer { /* one cache line of the writer table, written only by the writer holding it */
    uint64_t identity;            /* the writer, as in membrane_process_slot; 0 = free; CAS to take (from a dead one too) */
    uint32_t boot_tag;
    uint32_t reserved;
    int64_t claiming;             /* release: the sequence it claims, from before its CAS on write_position until its
                                     next claim; MEMBRANE_JOURNAL_NOT_CLAIMING when none */
    uint8_t reserved1[0x40 - 0x18];
};

struct membrane_journal {
    int64_t write_position;       /* one writer: sequences below it are published (release); many: the next sequence
                                     to claim (CAS), every one below it claimed */
    int64_t readers_signal;       /* readers park on its low 32 bits; a writer bumps it, then wakes, only when
                                     parked_readers has waiters */
    uint8_t reserved0[0x40 - 0x10];
    uint64_t writer_identity;     /* the writer's identity, 0 = none; CAS to claim the writer role */
    uint32_t writer_boot_tag;
    uint8_t reserved1[0x80 - 0x4C];
    uint32_t slot_size;           /* largest entry, bytes */
    uint32_t slot_stride;         /* 16 + slot_size rounded up to 64 */
    int64_t capacity;             /* slots, a power of two */
    uint32_t cursor_count;
    uint32_t policy;              /* enum membrane_overrun_policy */
    int64_t slots_offset;         /* from the payload: 0x100 + (cursor_count + writer_slots) * 64 */
    uint32_t writers;             /* enum membrane_journal_writers */
    uint32_t writer_slots;        /* one writer: 0; many: 1 to 1024 */
    uint8_t reserved2[0xC0 - 0xA8];
    int32_t parked_readers;       /* a waiter count (MEMBRANE_WAITERS): readers asleep on readers_signal; the writer
                                     wakes them only if its waiters are non-zero */
    int32_t writer_parked;        /* a Block writer asleep on commit_epoch */
    int32_t commit_epoch;         /* bumped (then futex-woken) by a commit that finds writer_parked set */
    int32_t registration_epoch;   /* bumped when a cursor is registered or removed */
    uint8_t reserved3[0x100 - 0xD0];
    struct membrane_journal_cursor cursors[]; /* cursor_count of them; then writer_slots of struct membrane_journal_writer;
                                                 then the slots at slots_offset */
};

struct membrane_journal_slot {
    int64_t stamp;                /* see MEMBRANE_JOURNAL_*_STAMP; 0 = never written */
    uint32_t length;              /* bytes of entry used, <= slot_size; or MEMBRANE_JOURNAL_*_GAP */
    uint32_t reserved;
    /* uint8_t entry[slot_size] follows */
};

_Static_assert(sizeof(struct membrane_journal_cursor) == 64, "a cursor is one cache line");
_Static_assert(sizeof(struct membrane_journal_writer) == 64, "a writer slot is one cache line");
_Static_assert(sizeof(struct membrane_journal) == 0x100, "the cursor table starts at payload offset 0x100");
_Static_assert(sizeof(struct membrane_journal_slot) == 16, "the entry starts 16 bytes into its slot");

/*
 * Ring payload (kind 4), at payload_offset: one producer, one consumer, variable-size records in `capacity` bytes at
 * MEMBRANE_RING_DATA_OFFSET. tail and head count bytes since creation; position = index & (capacity - 1).
 */
#define MEMBRANE_RING_DATA_OFFSET 0x140
#define MEMBRANE_RING_RECORD_MESSAGE 1
#define MEMBRANE_RING_RECORD_PADDING 2
#define MEMBRANE_RING_RECORD_FIRST_PART 3 /* payload: the whole message's length (int64_t), then its first bytes */
#define MEMBRANE_RING_RECORD_PART 4       /* payload: the message's next bytes, until its length is reached */
#define MEMBRANE_RING_RECORD_ABORTED 5    /* no payload: the unfinished message in parts before it is dropped */

struct membrane_ring {
    int64_t tail;                 /* producer, release; the consumer's futex word is its low half */
    int32_t producer_closed;
    uint32_t reserved0;
    uint64_t producer_identity;   /* as in membrane_process_slot; CAS to claim */
    uint32_t producer_boot_tag;
    uint8_t reserved1[0x40 - 0x1C];
    int64_t head;                 /* consumer, release; the producer's futex word is its low half */
    int32_t consumer_closed;
    uint32_t reserved2;
    uint64_t consumer_identity;
    uint32_t consumer_boot_tag;
    uint8_t reserved3[0x80 - 0x5C];
    int32_t consumer_waiting;     /* a waiter count: the consumer asleep on tail */
    uint32_t reserved4;
    int64_t consumer_parks;       /* consumer: times it slept in the kernel (statistics only) */
    int64_t consumer_wakes;       /* consumer: times it woke the producer (statistics only) */
    uint8_t reserved8[0xC0 - 0x98];
    int32_t producer_waiting;     /* a waiter count: the producer asleep on head */
    uint32_t reserved5;
    int64_t producer_parks;       /* producer: times it slept in the kernel (statistics only) */
    int64_t producer_wakes;       /* producer: times it woke the consumer (statistics only) */
    uint8_t reserved9[0x100 - 0xD8];
    int64_t capacity;             /* power of two */
    int32_t max_message;          /* capacity / 2 - 8 */
    uint8_t reserved6[MEMBRANE_RING_DATA_OFFSET - 0x10C];
};

struct membrane_ring_record {
    int32_t length;               /* payload bytes; for padding, the bytes after this header to the ring's end */
    int32_t kind;                 /* MEMBRANE_RING_RECORD_* */
    /* length bytes follow, then padding to a multiple of 8 */
};

_Static_assert(sizeof(struct membrane_ring) == MEMBRANE_RING_DATA_OFFSET, "records start at payload offset 0x140");

/*
 * Queue payload (kind 6), at payload_offset: many producers, one consumer, variable-size records in `capacity` bytes
 * at MEMBRANE_QUEUE_DATA_OFFSET(producer_slots). tail counts bytes claimed since creation, head bytes released; both are
 * read modulo capacity. A record header of zero is free space: the consumer zeroes every byte it releases.
 */
#define MEMBRANE_QUEUE_SLOT_TABLE_OFFSET 0x140
#define MEMBRANE_QUEUE_DATA_OFFSET(slots) (MEMBRANE_QUEUE_SLOT_TABLE_OFFSET + 64 * (int64_t)(slots))
#define MEMBRANE_QUEUE_RECORD_CLAIMED 1   /* claimed, being written; the tag names its producer */
#define MEMBRANE_QUEUE_RECORD_MESSAGE 2
#define MEMBRANE_QUEUE_RECORD_PADDING 3   /* length: the bytes after this header that it covers */
#define MEMBRANE_QUEUE_RECORD_ABORTED 4   /* given up by a live producer: skip it */
#define MEMBRANE_QUEUE_TAG_KIND(tag) ((tag) & 0xF)
#define MEMBRANE_QUEUE_TAG_SLOT(tag) (((tag) >> 4) & 0x3FF)
#define MEMBRANE_QUEUE_TAG_GENERATION(tag) ((tag) >> 14) /* the slot's generation, low 18 bits */

struct membrane_queue {
    int64_t tail;                 /* producers: CAS from t to t + record size (with the padding to the end, at a wrap) */
    uint8_t reserved0[0x40 - 0x08];
    int64_t head;                 /* consumer, release; producers waiting for room park on its low half */
    int32_t consumer_closed;
    uint32_t reserved1;
    uint64_t consumer_identity;   /* as in membrane_process_slot; CAS to claim */
    uint32_t consumer_boot_tag;
    uint32_t reserved2;
    int64_t released;             /* consumer: bytes it is done with, stored before it zeroes them and publishes head */
    uint8_t reserved7[0x80 - 0x68];
    int32_t consumer_waiting;     /* a waiter count: the consumer asleep on commit_signal */
    uint32_t reserved3;
    int64_t commit_signal;        /* bumped, then futex-woken (low half), by a commit that finds the consumer waiting */
    int64_t consumer_parks;       /* consumer: times it slept in the kernel (statistics only) */
    int64_t consumer_wakes;       /* consumer: times it woke producers (statistics only) */
    uint8_t reserved4[0xC0 - 0xA0];
    int32_t producers_waiting;    /* a waiter count: producers asleep on head, waiting for room */
    uint32_t reserved8;
    int64_t producers_parks;      /* producers, atomic add: times one slept in the kernel (statistics only) */
    int64_t producers_wakes;      /* producers, atomic add: times one woke the consumer (statistics only) */
    uint8_t reserved5[0x100 - 0xD8];
    int64_t capacity;             /* power of two */
    int32_t max_message;          /* capacity / 2 - 8 */
    int32_t producer_slots;       /* 1 to 1024 */
    int64_t aborted_claims;       /* consumer: claims skipped because their producer died */
    uint8_t reserved6[MEMBRANE_QUEUE_SLOT_TABLE_OFFSET - 0x118];
};

struct membrane_queue_producer_slot { /* one cache line, written only by the producer holding it */
    uint64_t identity;            /* as in membrane_process_slot; CAS to claim, a dead holder's replaced */
    uint32_t boot_tag;
    uint32_t generation;          /* bumped by every producer that takes the slot */
    int64_t claim_start;          /* the range being claimed (set before the CAS on tail), -1 when none */
    int64_t claim_end;
    uint8_t reserved[32];
};

struct membrane_queue_record {
    int32_t length;
    uint32_t tag;                 /* MEMBRANE_QUEUE_RECORD_* | slot << 4 | generation << 14 */
    /* length bytes follow, then padding to a multiple of 8 */
};

_Static_assert(sizeof(struct membrane_queue) == MEMBRANE_QUEUE_SLOT_TABLE_OFFSET, "producer slots start at payload offset 0x140");
_Static_assert(sizeof(struct membrane_queue_producer_slot) == 64, "a producer slot is one cache line");

#endif /* MEMBRANE_H */
