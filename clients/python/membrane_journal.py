#!/usr/bin/env python3
"""Tail a Membrane journal from Python: standard library only (mmap, struct), written from docs/LAYOUT.md.

    python3 membrane_journal.py JOURNAL [--from oldest|newest|N] [--follow]

prints one line per entry, `sequence,length,hex-of-payload`, and `# lost N` (or `# aborted N`) before the next entry
when the reader was lapped (or met a gap or a dead writer's hole). It follows the journal's stamp protocol, so it never
prints a torn entry: a slot's stamp is read before and after its bytes, and the entry is printed only if both are the
complete stamp of the sequence wanted. It reads without a cursor (it persists no position and a Block writer does not
wait for it). Exit 0 at the end (or on Ctrl-C with --follow), 1 when JOURNAL is missing or is not a journal of layout
version 5, naming what was expected and what was found.

CPython gives no load barriers: the stamp protocol's ordering is the hardware's, which x86-64 (loads are not
reordered with loads) provides; on arm64 a torn entry is unlikely but not excluded.
"""

import argparse
import mmap
import os
import struct
import sys
import time

MAGIC = 0x454E4152424D454D  # "MEMBRANE"
LAYOUT_VERSION = 5
KIND_JOURNAL = 3
STATE_READY = 2
LOST_GAP = 0xFFFFFFFF
ABORTED_GAP = 0xFFFFFFFE
HOLE_WAIT = 1.0  # seconds a sequence below the write position may stay incomplete before it is taken for a dead writer's hole


class JournalError(Exception):
    pass


class Journal:
    """A read-only mapping of a journal segment, its header checked field by field."""

    def __init__(self, name):
        directory = os.environ.get("MEMBRANE_DIR", "/dev/shm")
        self.path = name if "/" in name else os.path.join(directory, name)
        self.name = name
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise JournalError(f"Segment '{name}': No such segment. Expected: a journal at {self.path}.")
        try:
            size = os.fstat(fd).st_size
            if size < 4096 + 0x100:
                raise JournalError(f"Segment '{name}': too small for a journal. Found: {size} bytes.")
            self.map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)
        magic, version, kind = struct.unpack_from("<QHH", self.map, 0)
        total, payload_offset, payload_size = struct.unpack_from("<QQQ", self.map, 0x10)
        (state,) = struct.unpack_from("<I", self.map, 0x30)
        self.expect(magic == MAGIC, "the MEMBRANE magic", f"magic 0x{magic:016X}")
        self.expect(version == LAYOUT_VERSION, f"layout version {LAYOUT_VERSION}", f"layout version {version}")
        self.expect(kind == KIND_JOURNAL, f"kind {KIND_JOURNAL} (journal)", f"kind {kind}")
        self.expect(state == STATE_READY, "state 2 (ready)", f"state {state}")
        self.expect(total == size and payload_offset + payload_size <= size, f"a file of {total} bytes", f"{size} bytes")
        p = payload_offset
        self.payload = p
        self.slot_size, self.stride, self.capacity = struct.unpack_from("<IIQ", self.map, p + 0x80)
        (self.slots_offset,) = struct.unpack_from("<Q", self.map, p + 0x98)
        ok = (0 < self.slot_size <= 1 << 20 and self.stride == (16 + self.slot_size + 63) & ~63
              and self.capacity > 0 and self.capacity & (self.capacity - 1) == 0
              and p + self.slots_offset + self.capacity * self.stride <= size)
        self.expect(ok, "a consistent journal header", f"slot size {self.slot_size}, stride {self.stride}, capacity {self.capacity}")
        self.mask = self.capacity - 1

    def expect(self, condition, expected, found):
        if not condition:
            raise JournalError(f"Segment '{self.name}': not a journal this reader can read. Expected: {expected}. Found: {found}.")

    def write_position(self):
        return struct.unpack_from("<q", self.map, self.payload)[0]

    def slot(self, sequence):
        return self.payload + self.slots_offset + (sequence & self.mask) * self.stride

    def stamp(self, offset):
        return struct.unpack_from("<q", self.map, offset)[0]


def complete(sequence):
    return 2 * (sequence + 1)


def read(journal, position, follow, out):
    """Prints entries from `position` on; returns when the end is reached (never, with `follow`)."""
    lost = aborted = 0
    stuck_since = None
    while True:
        offset = journal.slot(position)
        expected = complete(position)
        before = journal.stamp(offset)
        if before == expected:
            (length,) = struct.unpack_from("<I", journal.map, offset + 8)
            if length in (LOST_GAP, ABORTED_GAP):
                if journal.stamp(offset) == expected:
                    if length == LOST_GAP:
                        lost += 1
                    else:
                        aborted += 1
                    position += 1
                continue
            if length > journal.slot_size:
                if journal.stamp(offset) == expected:
                    raise JournalError(f"Segment '{journal.name}': entry {position} is damaged. Expected: a length of at most {journal.slot_size}. Found: {length}.")
                continue
            data = journal.map[offset + 16:offset + 16 + length]
            if journal.stamp(offset) != expected:
                continue  # overwritten while copied: the lapped case, next time round
            if lost:
                out.write(f"# lost {lost}\n")
            if aborted:
                out.write(f"# aborted {aborted}\n")
            lost = aborted = 0
            stuck_since = None
            out.write(f"{position},{length},{data.hex()}\n")
            position += 1
            continue
        write = journal.write_position()
        if before > expected:
            # Lapped: a later lap's entry is (being) written there.
            if write - position > journal.capacity:
                lost += write - journal.capacity - position
                position = write - journal.capacity
            else:
                lost += 1
                position += 1
            continue
        # Not written yet: the end, or an entry being written, or (many writers) a dead writer's hole.
        if position < write:
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since > HOLE_WAIT:
                aborted += 1
                position += 1
                stuck_since = None
                continue
        elif not follow:
            if lost:
                out.write(f"# lost {lost}\n")
            if aborted:
                out.write(f"# aborted {aborted}\n")
            return position
        out.flush()
        time.sleep(0.001)


def main(argv):
    parser = argparse.ArgumentParser(description="Tail a Membrane journal: sequence,length,hex-of-payload per entry.")
    parser.add_argument("journal", help="the journal's name (in $MEMBRANE_DIR or /dev/shm) or a path")
    parser.add_argument("--from", dest="start", default="oldest", help="oldest (default), newest, or a sequence number")
    parser.add_argument("--follow", action="store_true", help="keep waiting for new entries until interrupted")
    args = parser.parse_args(argv)
    try:
        journal = Journal(args.journal)
        write = journal.write_position()
        if args.start == "oldest":
            position = max(0, write - journal.capacity)
        elif args.start == "newest":
            position = write
        elif args.start.isdigit():
            position = int(args.start)
        else:
            parser.error(f"--from is oldest, newest or a sequence number, not {args.start!r}")
        read(journal, position, args.follow, sys.stdout)
    except JournalError as error:
        print(f"membrane_journal: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
