using Membrane.Native;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

/// <summary>
/// Finds, describes and removes segments without attaching to them: the machinery behind <c>membrane ls</c>,
/// <c>inspect</c>, <c>rm</c> and <c>gc</c>. Segments are recognised by their magic number, not their names.
/// </summary>
public static unsafe class SegmentCatalog
{
    /// <summary>Every Membrane segment in /dev/shm that this user can read, by name.</summary>
    public static IReadOnlyList<SegmentInfo> List()
    {
        var found = new List<SegmentInfo>();
        foreach (string path in Directory.EnumerateFiles(SegmentName.SharedMemoryDirectory).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            try
            {
                found.Add(Inspect(name));
            }
            catch (MembraneException)
            {
                // Foreign, unreadable or vanished since the directory was read: not ours to list.
            }
        }
        return found;
    }

    /// <summary>
    /// Reads one segment's header and process table. Throws <see cref="SegmentNotFoundException"/> or
    /// <see cref="ForeignSegmentException"/> when there is no Membrane segment of that name.
    /// </summary>
    public static SegmentInfo Inspect(string name, SegmentBacking backing = SegmentBacking.SharedMemory)
    {
        string canonical = Canonical(name, backing);
        using SafeFileDescriptor fd = SegmentFiles.Open(canonical, backing, create: false, writable: false, default);
        Interop.StatX stat = SegmentFiles.Stat(fd, canonical);
        long size = (long)stat.Size;
        if (size < L.Size)
        {
            throw new ForeignSegmentException("It is not a Membrane segment.", canonical,
                expected: $"a Membrane header of {L.Size} bytes", found: $"a file of {size} bytes");
        }
        using MappedMemory mapping = MappedMemory.Map(fd, size, writable: false, out int errno);
        if (errno != 0)
        {
            NativeError.Throw("mmap", errno, canonical);
        }
        ref SegmentHeader header = ref *(SegmentHeader*)mapping.Pointer;
        if (header.Magic != L.Magic)
        {
            throw new ForeignSegmentException("It is not a Membrane segment.", canonical,
                expected: $"magic 0x{L.Magic:x16} (\"MEMBRANE\")", found: $"magic 0x{header.Magic:x16}");
        }
        var table = new ProcessTable(mapping.Pointer);
        var creator = ProcessIdentity.Unpack(header.CreatorIdentity, header.CreatorBootTag);
        return new SegmentInfo
        {
            Name = canonical,
            Backing = backing,
            FileSize = size,
            LayoutVersion = header.LayoutVersion,
            Kind = (SegmentKind)header.Kind,
            State = (SegmentState)Volatile.Read(ref header.State),
            PayloadSize = header.PayloadSize,
            PayloadType = new TypeFingerprint(header.TypeFingerprint, SharedSegment.ReadTypeName(in header), (int)header.PayloadTypeSize),
            Creator = creator,
            CreatorAlive = creator.IsAlive(),
            CreatedAt = DateTimeOffset.UnixEpoch.AddTicks(header.CreatedUnixNanoseconds / 100),
            RemoveWhenUnused = ((SegmentFlags)header.Flags).HasFlag(SegmentFlags.RemoveWhenUnused),
            Mode = (UnixFileMode)(stat.Mode & 0xFFF),
            OwnerUid = stat.Uid,
            Processes = table.Snapshot(),
            RemovalClaimant = table.RemovalClaimant,
        };
    }

    /// <summary>
    /// Removes a segment. Refuses (<see cref="SegmentInUseException"/>) while live processes are attached unless
    /// <paramref name="force"/>; always refuses a name that is not a Membrane segment (<see cref="ForeignSegmentException"/>).
    /// Processes still attached keep their mapping; the name is free at once.
    /// </summary>
    public static void Remove(string name, bool force = false, SegmentBacking backing = SegmentBacking.SharedMemory)
    {
        string canonical = Canonical(name, backing);
        SegmentInfo info = Inspect(canonical, backing);
        if (force || TryClaimRemoval(canonical, backing, info))
        {
            if (!SegmentFiles.Unlink(canonical, backing))
            {
                throw new SegmentNotFoundException("It was removed by another process meanwhile.", canonical);
            }
            return;
        }
        IEnumerable<int> pids = Inspect(canonical, backing).Processes.Where(p => p.IsAlive).Select(p => p.Process.Pid);
        throw new SegmentInUseException("Live processes are attached to it; use force to remove it anyway.", canonical,
            expected: "no live process attached", found: $"pids {string.Join(", ", pids)}");
    }

    /// <summary>
    /// Removes every segment that no live process is attached to, and every one whose creator died while
    /// initialising it. Returns what it removed (with <paramref name="dryRun"/>, what it would remove).
    /// <paramref name="namePrefix"/> limits it to names that start with it.
    /// </summary>
    public static IReadOnlyList<SegmentInfo> CollectGarbage(bool dryRun = false, string? namePrefix = null)
    {
        var removed = new List<SegmentInfo>();
        foreach (SegmentInfo info in List().Where(i => i.IsGarbage && i.Name.StartsWith(namePrefix ?? "", StringComparison.Ordinal)))
        {
            if (dryRun)
            {
                removed.Add(info);
                continue;
            }
            try
            {
                if (TryClaimRemoval(info.Name, info.Backing, info) && SegmentFiles.Unlink(info.Name, info.Backing))
                {
                    removed.Add(info);
                }
            }
            catch (MembraneException)
            {
                // Vanished or became unreadable since it was listed: nothing of ours to collect.
            }
        }
        return removed;
    }

    /// <summary>
    /// For a ready segment, the removal claim of <see cref="ProcessTable"/> (so that nobody attaches as we unlink);
    /// for an abandoned one, the CAS to Abandoned (so that a creator that is alive after all is never pulled).
    /// </summary>
    private static bool TryClaimRemoval(string name, SegmentBacking backing, SegmentInfo info)
    {
        using SafeFileDescriptor fd = SegmentFiles.Open(name, backing, create: false, writable: true, default);
        using MappedMemory mapping = MappedMemory.Map(fd, info.FileSize, writable: true, out int errno);
        if (errno != 0)
        {
            NativeError.Throw("mmap", errno, name);
        }
        ref SegmentHeader header = ref *(SegmentHeader*)mapping.Pointer;
        int state = Volatile.Read(ref header.State);
        if (state == (int)SegmentState.Ready)
        {
            return new ProcessTable(mapping.Pointer).TryClaimRemoval(ProcessIdentity.Current);
        }
        var creator = ProcessIdentity.Unpack(header.CreatorIdentity, header.CreatorBootTag);
        return state == (int)SegmentState.Abandoned
            || (!creator.IsAlive() && Interlocked.CompareExchange(ref header.State, (int)SegmentState.Abandoned, state) == state);
    }

    private static string Canonical(string name, SegmentBacking backing) =>
        backing == SegmentBacking.File ? SegmentName.ValidatePath(name) : SegmentName.Validate(name);
}
