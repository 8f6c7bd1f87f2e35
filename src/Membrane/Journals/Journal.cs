using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>
/// A journal: one writer (or many, <see cref="JournalWriters.Many"/>) appends fixed-size entries to a shared ring, any
/// number of readers follow it, each from its own cursor persisted in the segment (crash recovery, late-join catch-up).
/// Open one, then take a writer with <see cref="CreateWriter"/> or a cursor with <see cref="OpenReader(int, StartPosition)"/>.
/// <para>
/// Protocol. A writer stamps a slot odd, writes the entry, stamps it even (release); the one writer then publishes the
/// write position (release), while many writers claim their sequences from it beforehand (see <see cref="SharedWriter"/>).
/// After a full fence, and only if a reader announced it is parked, the writer bumps the readers' signal and wakes the
/// futex on its low half. A reader checks the slot's stamp before and after copying the entry, and delivers it only if
/// both equal the complete stamp of the sequence it wants. Under <see cref="OverrunPolicy.Block"/> the writers also keep
/// every registered cursor's committed position within one ring of the write position.
/// </para>
/// </summary>
[DebuggerDisplay("Journal {Name} ({Capacity} x {SlotSize} B, {Policy})")]
public sealed unsafe class Journal : IDisposable
{
    private readonly SharedSegment _segment;
    private readonly MappingUsers _users;
    private int _disposed;

    private Journal(SharedSegment segment)
    {
        _segment = segment;
        _users = new MappingUsers(segment.Dispose);
        Payload = segment.PayloadPointer;
        // Read once, checked, and only these checked copies used from now on: never the shared fields again.
        uint slotSize = Read32(L.SlotSizeOffset);
        uint stride = Read32(L.SlotStrideOffset);
        long capacity = Unsafe.ReadUnaligned<long>(Payload + L.CapacityOffset);
        uint cursors = Read32(L.CursorCountOffset);
        uint policy = Read32(L.PolicyOffset);
        long slotsOffset = Unsafe.ReadUnaligned<long>(Payload + L.SlotsOffsetOffset);
        uint writers = Read32(L.WritersOffset);
        uint writerSlots = Read32(L.WriterSlotsOffset);
        ValidateLayout(slotSize, stride, capacity, cursors, policy, slotsOffset, writers, writerSlots);
        SlotSize = (int)slotSize;
        SlotStride = (int)stride;
        Capacity = capacity;
        CursorCount = (int)cursors;
        Policy = (OverrunPolicy)policy;
        Writers = (JournalWriters)writers;
        WriterSlotCount = (int)writerSlots;
        WriterTable = Payload + L.WriterTableOffset((int)cursors);
        Slots = Payload + slotsOffset;
        Mask = Capacity - 1;
        ValidateCursors();
    }

    /// <summary>The segment's name.</summary>
    public string Name => _segment.Name;

    /// <summary>Slots in the ring (a power of two).</summary>
    public long Capacity { get; }

    /// <summary>The largest entry in bytes.</summary>
    public int SlotSize { get; }

    /// <summary>How many cursors the journal holds.</summary>
    public int CursorCount { get; }

    /// <summary>What the writer does when a reader falls a ring behind.</summary>
    public OverrunPolicy Policy { get; }

    /// <summary>Whether the journal takes one writer at a time or many.</summary>
    public JournalWriters Writers { get; }

    /// <summary>How many writers may be open at once: 1 with one writer, <see cref="JournalOptions.MaxWriters"/> with many.</summary>
    public int MaxWriters => Writers == JournalWriters.Many ? WriterSlotCount : 1;

    /// <summary>
    /// With many writers: how long a reader finds the next sequence claimed and not complete, or a writer finds its
    /// slot's previous lap so, before it looks whether the claim's writer is alive, and then how often it looks again
    /// (1 ms). A claim is a copy away from complete, so a live writer is rarely looked at; a dead one's claim is skipped
    /// at the first look. A reader parked behind a dead claim looks when its wait's slice ends (50 ms; 1 s for an awaited
    /// wait), so a dead writer holds a reader up for at most about that long.
    /// </summary>
    public static readonly TimeSpan AbandonedClaimCheck = ClaimLookout.Delay;

    /// <summary>
    /// The sequence the next appended entry gets: the entries appended so far, counting one that a writer stamped
    /// complete and died before publishing (readers may have read it; the next writer publishes it).
    /// </summary>
    public long WritePosition
    {
        get
        {
            ThrowIfDisposed();
            return CurrentWritePosition;
        }
    }

    /// <summary><see cref="WritePosition"/> for the journal's writer and readers, which may outlive this handle.</summary>
    internal long CurrentWritePosition
    {
        get
        {
            // A live writer stamps at most one entry ahead of what it published; a scan is bounded by the ring all the same.
            long position = PublishedWritePosition;
            for (long scanned = 0; scanned < Capacity && Volatile.Read(ref StampOf(position)) == L.CompleteStamp(position); scanned++)
            {
                position++;
            }
            return position;
        }
    }

    /// <summary>The write position as the writer last published it (what a parked reader is woken by).</summary>
    internal long PublishedWritePosition => Volatile.Read(ref WritePositionRef);

    /// <summary>Creates a journal; fails with <see cref="SegmentAlreadyExistsException"/> if the name exists.</summary>
    public static Journal Create(string name, JournalOptions? options = null)
    {
        options ??= new JournalOptions();
        options.Validate(name);
        return new Journal(SharedSegment.Create(name, PayloadSize(options), Spec, SegmentOptions(options), s => Initialise(s, options)));
    }

    /// <summary>Opens an existing journal, checking its layout and cursor table.</summary>
    public static Journal Open(string name) => new(SharedSegment.Open(name, Spec, Segments.SegmentOptions.Default));

    /// <summary>Opens an existing journal, mapped as <paramref name="mapping"/> says (see <see cref="JournalOptions.Mapping"/>).</summary>
    public static Journal Open(string name, SegmentMapping mapping) => new(SharedSegment.Open(name, Spec, new SegmentOptions { Mapping = mapping }));

    /// <summary>Opens the journal if it exists (whatever its options), else creates it with <paramref name="options"/>.</summary>
    public static Journal OpenOrCreate(string name, JournalOptions? options = null)
    {
        options ??= new JournalOptions();
        options.Validate(name);
        return new Journal(SharedSegment.OpenOrCreate(name, PayloadSize(options), Spec, SegmentOptions(options), s => Initialise(s, options)));
    }

    /// <summary>
    /// Takes the writer role, or with many writers a writer slot (a dead writer's is taken over). A writer is used by one
    /// thread at a time.
    /// </summary>
    /// <param name="blockTimeout">Block policy: how long an append waits for the slowest reader to make room (infinite by default).</param>
    /// <exception cref="SegmentInUseException">One writer: a live writer holds the role. Many: every writer slot is held by a live writer.</exception>
    public JournalWriter CreateWriter(TimeSpan? blockTimeout = null)
    {
        ThrowIfDisposed();
        TimeSpan timeout = blockTimeout ?? Timeout.InfiniteTimeSpan;
        return Writers == JournalWriters.Many ? new SharedWriter(this, timeout) : new SoleWriter(this, timeout);
    }

    /// <summary>Attaches a reader to cursor <paramref name="cursorId"/> (0 to <see cref="CursorCount"/> - 1).</summary>
    public JournalReader OpenReader(int cursorId, StartPosition start = StartPosition.Persisted)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(cursorId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cursorId, CursorCount);
        return new JournalReader(this, cursorId, name: null, start);
    }

    /// <summary>Attaches a reader to the cursor of this name, taking a free cursor the first time.</summary>
    public JournalReader OpenReader(string cursorName, StartPosition start = StartPosition.Persisted)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(cursorName);
        if (Encoding.UTF8.GetByteCount(cursorName) > L.CursorNameSize)
        {
            throw new ArgumentException($"A cursor name is at most {L.CursorNameSize} bytes of UTF-8.", nameof(cursorName));
        }
        for (int attempt = 0; ; attempt++)
        {
            int id = FindCursor(cursorName);
            try
            {
                return new JournalReader(this, id, cursorName, start);
            }
            catch (SegmentInUseException) when (attempt < CursorCount && Cursor(id).ReadName() != cursorName)
            {
                // Another reader took this free cursor for a name of its own between our look and our claim: look again.
            }
        }
    }

    /// <summary>
    /// The process that holds the writer role (alive or not: a dead one is replaced by the next writer), or null. With
    /// many writers, the first live writer's process, else the first dead one's (<see cref="ReadWriters"/> lists them all).
    /// </summary>
    public ProcessIdentity? Writer
    {
        get
        {
            ThrowIfDisposed();
            List<JournalWriterInfo> writers = ListWriters();
            return writers.Count == 0 ? null : writers[Math.Max(0, writers.FindIndex(w => w.Alive))].Holder;
        }
    }

    /// <summary>Whether a live process holds the writer role (with many writers, a writer slot); judged by its attachment, so in any PID namespace.</summary>
    public bool WriterAlive
    {
        get
        {
            ThrowIfDisposed();
            return ListWriters().Exists(w => w.Alive);
        }
    }

    /// <summary>Every writer the journal records (free writer slots are left out), alive or not.</summary>
    public IReadOnlyList<JournalWriterInfo> ReadWriters()
    {
        ThrowIfDisposed();
        return ListWriters();
    }

    private List<JournalWriterInfo> ListWriters()
    {
        var writers = new List<JournalWriterInfo>();
        if (Writers == JournalWriters.One)
        {
            if (ProcessClaim.Holder(ref WriterIdentity, ref WriterBootTag) is { } holder)
            {
                writers.Add(new JournalWriterInfo(0, holder, Processes.IsAlive(holder.Packed), Claiming: null));
            }
            return writers;
        }
        for (int slot = 0; slot < WriterSlotCount; slot++)
        {
            ref JournalWriterSlot writer = ref WriterSlot(slot);
            if (ProcessClaim.Holder(ref writer.Identity, ref writer.BootTag) is { } holder)
            {
                long claiming = Volatile.Read(ref writer.Claiming);
                writers.Add(new JournalWriterInfo(slot, holder, Processes.IsAlive(holder.Packed), claiming < 0 ? null : claiming));
            }
        }
        return writers;
    }

    /// <summary>Every cursor, registered or not.</summary>
    public IReadOnlyList<CursorInfo> Cursors()
    {
        ThrowIfDisposed();
        return ReadCursors();
    }

    /// <summary><see cref="Cursors"/> for the journal's writer, which may outlive this handle.</summary>
    internal List<CursorInfo> ReadCursors()
    {
        var cursors = new List<CursorInfo>(CursorCount);
        for (int id = 0; id < CursorCount; id++)
        {
            ref JournalCursor cursor = ref Cursor(id);
            ProcessIdentity? process = ProcessClaim.Holder(ref cursor.Owner, ref cursor.OwnerBootTag);
            cursors.Add(new CursorInfo(id, cursor.ReadName(), Volatile.Read(ref cursor.State) == JournalCursor.Registered,
                Volatile.Read(ref cursor.Committed), process, process is { } owner && Processes.IsAlive(owner.Packed), Lag: 0));
        }
        // The write position after every cursor, as ValidateCursors reads them: a position read before a commit could be behind it.
        long write = CurrentWritePosition;
        for (int id = 0; id < cursors.Count; id++)
        {
            cursors[id] = cursors[id] with { Lag = write - cursors[id].CommittedPosition };
        }
        return cursors;
    }

    /// <summary>
    /// Unregisters a cursor, so that a Block writer stops waiting for it and its position is forgotten. Refused
    /// (<see cref="SegmentInUseException"/>) while a live reader is attached to it.
    /// </summary>
    public void RemoveCursor(int cursorId)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(cursorId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cursorId, CursorCount);
        ref JournalCursor cursor = ref Cursor(cursorId);
        // Taken as a reader takes it, so that no reader can attach while it is being cleared.
        if (ProcessClaim.TryClaim(ref cursor.Owner, ref cursor.OwnerBootTag, Processes) is { } holder)
        {
            throw new SegmentInUseException($"Cursor {cursorId} has a live reader attached.", Name,
                expected: "no reader attached", found: $"pid {holder.Pid}");
        }
        try
        {
            // Unregistered first: a Block writer stops waiting for it before anything else changes, and a removal cut
            // short leaves a free cursor whose stale name or position the next reader of it starts afresh from.
            Volatile.Write(ref cursor.State, JournalCursor.Free);
            Interlocked.Increment(ref RegistrationEpoch);
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.JournalCursorRemoveAfterUnregister);
            }
            Volatile.Write(ref cursor.Waiting, 0);
            cursor.ClearName();
            Volatile.Write(ref cursor.Committed, 0);
        }
        finally
        {
            ProcessClaim.Release(ref cursor.Owner);
        }
        WakeWriter();
    }

    /// <summary>
    /// Detaches from the journal (once its writer and readers are disposed too: until then they keep it mapped). The
    /// journal itself persists (it holds readers' positions) until removed. Idempotent, thread-safe, never throws.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _users.Remove();
        }
    }

    internal byte* Payload { get; }

    /// <summary>The segment's attached processes: who is alive among role holders.</summary>
    internal ProcessTable Processes => _segment.Processes;

    internal byte* Slots { get; }

    private byte* WriterTable { get; }

    internal long Mask { get; }

    internal int SlotStride { get; }

    internal ref long WritePositionRef => ref Unsafe.AsRef<long>(Payload + L.WritePositionOffset);

    /// <summary>What parked readers sleep on (its low half): bumped by a writer only when a reader is counted as parked.</summary>
    internal ref long ReadersSignal => ref Unsafe.AsRef<long>(Payload + L.ReadersSignalOffset);

    internal int WriterSlotCount { get; }

    internal ref JournalWriterSlot WriterSlot(int slot) => ref Unsafe.AsRef<JournalWriterSlot>(WriterTable + ((long)slot * L.WriterSlotSize));

    /// <summary>
    /// Many writers: whether no live writer names <paramref name="sequence"/> in its slot. For a sequence below the write
    /// position (claimed) that is not complete, that means its writer died between its claim and its completion; the
    /// caller reads the slot's stamp again afterwards, as a writer that completed it and moved on stamped it first.
    /// </summary>
    internal bool ClaimAbandoned(long sequence)
    {
        for (int slot = 0; slot < WriterSlotCount; slot++)
        {
            ref JournalWriterSlot writer = ref WriterSlot(slot);
            // Acquire: a writer's name of its claim is read before what it wrote after it.
            if (Volatile.Read(ref writer.Claiming) == sequence && Processes.IsAlive(Volatile.Read(ref writer.Identity)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Takes a writer slot for this process (a dead writer's is taken over), keeping the journal mapped until <see cref="ReleaseWriterSlot"/>.</summary>
    internal int ClaimWriterSlot()
    {
        int claimed = -1;
        _users.Add(this, () =>
        {
            for (int slot = 0; slot < WriterSlotCount; slot++)
            {
                if (ProcessClaim.TryClaim(ref WriterSlot(slot).Identity, ref WriterSlot(slot).BootTag, Processes) is null)
                {
                    claimed = slot;
                    return;
                }
            }
            throw new SegmentInUseException("Every writer slot of the journal is held by a live writer.", Name,
                expected: "a free writer slot", found: $"{WriterSlotCount} live writers");
        });
        // A claim the slot's previous (dead) holder left is no longer anyone's: readers skip it.
        Volatile.Write(ref WriterSlot(claimed).Claiming, L.NotClaiming);
        return claimed;
    }

    /// <summary>Gives a writer slot up: its last claim is complete (an append is never left half-done by a live writer).</summary>
    internal void ReleaseWriterSlot(int slot)
    {
        Volatile.Write(ref WriterSlot(slot).Claiming, L.NotClaiming);
        ProcessClaim.Release(ref WriterSlot(slot).Identity);
    }

    internal ref ulong WriterIdentity => ref Unsafe.AsRef<ulong>(Payload + L.WriterIdentityOffset);

    internal ref uint WriterBootTag => ref Unsafe.AsRef<uint>(Payload + L.WriterBootTagOffset);

    internal ref int ParkedReaders => ref Unsafe.AsRef<int>(Payload + L.ParkedReadersOffset);

    internal ref int WriterParked => ref Unsafe.AsRef<int>(Payload + L.WriterParkedOffset);

    internal ref int CommitEpoch => ref Unsafe.AsRef<int>(Payload + L.CommitEpochOffset);

    internal ref int RegistrationEpoch => ref Unsafe.AsRef<int>(Payload + L.RegistrationEpochOffset);

    internal ref JournalCursor Cursor(int id) => ref Unsafe.AsRef<JournalCursor>(Payload + L.CursorTableOffset + ((long)id * L.CursorSize));

    internal byte* Slot(long sequence) => Slots + ((sequence & Mask) * SlotStride);

    /// <summary>
    /// Takes back from <see cref="ParkedReaders"/> what readers that died while waiting left in it (else every append
    /// pays a futex wake for ever). A live waiter says so in its cursor's <see cref="JournalCursor.Waiting"/> from before
    /// it counts itself in until after it counts itself out, so the live waiters are at most the cursors waiting with a
    /// live owner: a count above that holds dead readers' increments, and a CAS of the whole word removes only those. It
    /// fails, harmlessly, if any reader counted itself in or out meanwhile, even one that counted itself out and in again
    /// and so left the number of waiters as it was (see <see cref="WaiterCount"/>): taking that reader out would lose its wake.
    /// </summary>
    internal void RepairParkedReaders()
    {
        int word = Volatile.Read(ref ParkedReaders); // acquire: a waiter's flag, set before its counting in, is seen below
        int counted = WaiterCount.Waiters(word);
        if (counted == 0)
        {
            return;
        }
        int waiting = 0;
        for (int id = 0; id < CursorCount; id++)
        {
            ref JournalCursor cursor = ref Cursor(id);
            if (Volatile.Read(ref cursor.Waiting) != 0 && Processes.IsAlive(Volatile.Read(ref cursor.Owner)))
            {
                waiting++;
            }
        }
        if (waiting < counted)
        {
            Interlocked.CompareExchange(ref ParkedReaders, WaiterCount.Without(word, counted - waiting), word);
        }
    }

    /// <summary>The stamp word of the slot <paramref name="sequence"/> maps to.</summary>
    internal ref long StampOf(long sequence) => ref Unsafe.AsRef<long>(Slot(sequence) + L.SlotStampOffset);

    /// <summary>After a commit or a removal: wake a Block writer, but only if it said it is parked.</summary>
    internal void WakeWriter()
    {
        // Pairs with the writer's exchange of WriterParked before it re-reads the cursors.
        if (Volatile.Read(ref WriterParked) != 0)
        {
            Interlocked.Increment(ref CommitEpoch);
            Sync.Futex.WakeAll((int*)Unsafe.AsPointer(ref CommitEpoch));
            MembraneMetrics.Wakes.Add(1, MembraneMetrics.Tag(Name));
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>The handles that keep this journal mapped: this one, its writer, its readers.</summary>
    internal MappingUsers Users => _users;

    private static PayloadSpec Spec { get; } = new(SegmentKind.Journal, TypeFingerprint.None);

    private static long PayloadSize(JournalOptions options) => L.PayloadSize(options.SlotSize, options.Capacity, options.Cursors, options.WriterSlots); // checked by Validate

    private static SegmentOptions SegmentOptions(JournalOptions options) =>
        new() { Mode = options.Mode, Mapping = options.Mapping, RemoveWhenUnused = options.RemoveWhenUnused };

    private static void Initialise(SharedSegment segment, JournalOptions options)
    {
        byte* payload = segment.PayloadPointer;
        Unsafe.WriteUnaligned(payload + L.SlotSizeOffset, (uint)options.SlotSize);
        Unsafe.WriteUnaligned(payload + L.SlotStrideOffset, (uint)L.SlotStride(options.SlotSize));
        Unsafe.WriteUnaligned(payload + L.CapacityOffset, options.Capacity);
        Unsafe.WriteUnaligned(payload + L.CursorCountOffset, (uint)options.Cursors);
        Unsafe.WriteUnaligned(payload + L.PolicyOffset, (uint)options.Policy);
        Unsafe.WriteUnaligned(payload + L.SlotsOffsetOffset, L.SlotsOffset(options.Cursors, options.WriterSlots));
        Unsafe.WriteUnaligned(payload + L.WritersOffset, (uint)options.Writers);
        Unsafe.WriteUnaligned(payload + L.WriterSlotsOffset, (uint)options.WriterSlots);
        for (int slot = 0; slot < options.WriterSlots; slot++)
        {
            Unsafe.WriteUnaligned(payload + L.WriterTableOffset(options.Cursors) + ((long)slot * L.WriterSlotSize) + L.WriterSlotClaimingOffset, L.NotClaiming);
        }
        // Everything else starts at zero: position 0, no writer, free cursors, never-written slots (stamp 0).
    }

    private uint Read32(int offset) => Unsafe.ReadUnaligned<uint>(Payload + offset);

    /// <summary>The journal's own fields, checked once at open: a foreign or damaged segment is refused here.</summary>
    private void ValidateLayout(uint slotSize, uint stride, long capacity, uint cursors, uint policy, long slotsOffset, uint writers, uint writerSlots)
    {
        string? problem =
            slotSize is 0 or > L.MaxSlotSize ? $"slot size {slotSize}"
            : stride != L.SlotStride((int)slotSize) ? $"slot stride {stride} for slot size {slotSize}"
            : !L.IsPowerOfTwo(capacity) || capacity > L.MaxCapacity ? $"capacity {capacity} (a power of two up to {L.MaxCapacity} expected)"
            : cursors is 0 or > L.MaxCursors ? $"cursor count {cursors}"
            : policy > (uint)OverrunPolicy.Block ? $"overrun policy {policy}"
            : writers > (uint)JournalWriters.Many ? $"writers mode {writers}"
            : writers == (uint)JournalWriters.One ? (writerSlots != 0 ? $"{writerSlots} writer slots in a journal with one writer" : null)
            : writerSlots is 0 or > L.MaxWriterSlots ? $"{writerSlots} writer slots"
            : null;
        problem ??=
            slotsOffset != L.SlotsOffset((int)cursors, (int)writerSlots) ? $"slots offset {slotsOffset}"
            : L.PayloadSize((int)slotSize, capacity, (int)cursors, (int)writerSlots) > _segment.PayloadLength ? $"a ring larger than the segment ({_segment.PayloadLength} bytes)"
            : null;
        if (problem is not null)
        {
            _segment.Dispose();
            throw new SegmentCorruptException("Its journal header is inconsistent.", _segment.Name, expected: "a consistent journal layout", found: problem);
        }
    }

    /// <summary>The cursor table, checked once at open, after the layout: no cursor may be past what was written.</summary>
    private void ValidateCursors()
    {
        long published = PublishedWritePosition;
        if (published is < 0 or > L.MaxSequence)
        {
            _segment.Dispose();
            throw new SegmentCorruptException("Its write position is damaged.", _segment.Name,
                expected: $"a write position from 0 to {L.MaxSequence}", found: published.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        // Every cursor first, then the write position: readers commit while we look, and a position read before a
        // commit could be behind it (an open of a busy journal failed as corrupt that way). A cursor read first is never
        // ahead of the write position read after it. The scan of CurrentWritePosition counts an entry that a writer
        // stamped complete and died before publishing, which a reader may have committed.
        long[] committed = new long[CursorCount];
        uint[] states = new uint[CursorCount];
        for (int id = 0; id < CursorCount; id++)
        {
            committed[id] = Volatile.Read(ref Cursor(id).Committed);
            states[id] = Volatile.Read(ref Cursor(id).State);
        }
        long write = CurrentWritePosition;
        for (int id = 0; id < CursorCount; id++)
        {
            if (committed[id] < 0 || committed[id] > write || states[id] > JournalCursor.Registered)
            {
                _segment.Dispose();
                throw new SegmentCorruptException("Its cursor table is damaged.", _segment.Name,
                    expected: $"cursor positions between 0 and the write position {write}, states 0 or 1",
                    found: $"cursor {id} at position {committed[id]}, state {states[id]}");
            }
        }
    }

    /// <summary>
    /// Free, unnamed, and with no live reader: never registered, or removed, or claimed by a reader that died before it
    /// named or registered it (such a cursor would otherwise be lost to every later reader by name).
    /// </summary>
    private bool IsUnused(ref JournalCursor cursor) =>
        Volatile.Read(ref cursor.State) == JournalCursor.Free && cursor.ReadName() is null && !Processes.IsAlive(Volatile.Read(ref cursor.Owner));

    private int FindCursor(string name)
    {
        int free = -1;
        for (int id = 0; id < CursorCount; id++)
        {
            ref JournalCursor cursor = ref Cursor(id);
            if (cursor.ReadName() == name)
            {
                return id;
            }
            if (free < 0 && IsUnused(ref cursor))
            {
                free = id;
            }
        }
        return free >= 0 ? free : throw new CapacityExhaustedException("Every cursor is taken.", Name,
            expected: $"a free cursor among {CursorCount}", found: "all registered or attached");
    }
}
