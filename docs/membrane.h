/*
 * Membrane shared-memory layouts, for programs in other languages that read or join Membrane segments.
 * Layout version 1. All integers little-endian; offsets, never pointers. docs/LAYOUT.md explains every field;
 * the test suite compiles this header against the C# layout (offsetof/sizeof), so the two cannot drift apart.
 */
#ifndef MEMBRANE_H
#define MEMBRANE_H

#include <stddef.h>
#include <stdint.h>

#define MEMBRANE_MAGIC 0x454E4152424D454DULL /* "MEMBRANE" read as a little-endian uint64 */
#define MEMBRANE_LAYOUT_VERSION 1
#define MEMBRANE_HEADER_SIZE 4096
#define MEMBRANE_PROCESS_SLOTS 240

enum membrane_kind {
    MEMBRANE_KIND_RAW = 1,
    MEMBRANE_KIND_ARC = 2,
    MEMBRANE_KIND_JOURNAL = 3,
    MEMBRANE_KIND_RING = 4,
    MEMBRANE_KIND_WRITE_ONCE = 5,
};

enum membrane_state {
    MEMBRANE_STATE_BLANK = 0,        /* creator has not started (or died before it did) */
    MEMBRANE_STATE_INITIALISING = 1, /* creator is writing it: do not trust */
    MEMBRANE_STATE_READY = 2,        /* usable; read with acquire ordering */
    MEMBRANE_STATE_ABANDONED = 3,    /* creator died half-way; being removed */
};

#define MEMBRANE_FLAG_REMOVE_WHEN_UNUSED 0x1u

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
    uint64_t removal_claim;        /* identity of a process removing the segment, 0 = none; CAS only */
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
 * process table. The value is guarded by a robust, process-shared, error-checking pthread mutex and published to
 * lock-free readers through a sequence lock: odd while a holder may be writing, even when published.
 */
#define MEMBRANE_ARC_MUTEX_SIZE 64 /* room for pthread_mutex_t: 40 bytes on x86_64, 48 on arm64 */

struct membrane_arc {
    uint8_t mutex[MEMBRANE_ARC_MUTEX_SIZE]; /* pthread_mutex_t, PTHREAD_PROCESS_SHARED | ROBUST | ERRORCHECK */
    uint64_t holder_identity;               /* identity of the lock holder, 0 = none; written by the holder */
    int64_t sequence;                       /* seqlock: odd = value being changed; written by the holder */
    uint8_t reserved[0x80 - 0x50];
    /* T value follows at offset 0x80 */
};

_Static_assert(sizeof(struct membrane_arc) == 0x80, "the arc's value starts at payload offset 0x80");

#endif /* MEMBRANE_H */
