using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Segments;

/// <summary>
/// Finds, describes and removes segments without attaching to them: the machinery behind <c>membrane ls</c>,
/// <c>inspect</c>, <c>rm</c> and <c>gc</c>. Segments are recognised by their magic number, not their names.
/// </summary>
public static unsafe class SegmentCatalog
{
    /// <summary>
    /// Every Membrane segment in <see cref="SegmentName.Directory"/> (/dev/shm unless MEMBRANE_DIR says otherwise) that this user can read, by name, then every segment still being built under
    /// a creation name (<see cref="SegmentInfo.InCreation"/>): a live creator's, or debris of one that died.
    /// </summary>
    public static IReadOnlyList<SegmentInfo> List()
    {
        var found = new List<SegmentInfo>();
        var creations = new List<SegmentInfo>();
        foreach (string path in SegmentDirectoryFiles().Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            try
            {
                if (SegmentFiles.CreatorOf(name) is { } creator)
                {
                    creations.Add(InspectCreation(name, creator));
                }
                else
                {
                    found.Add(Inspect(name));
                }
            }
            catch (MembraneException)
            {
                // Foreign, unreadable or vanished since the directory was read: not ours to list.
            }
        }
        found.AddRange(creations);
        return found;
    }

    private static string[] SegmentDirectoryFiles()
    {
        string directory = SegmentName.Directory;
        try
        {
            return Directory.GetFiles(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SegmentNotFoundException($"The segment directory {directory} cannot be listed.", directory,
                expected: "a readable directory", found: e.Message, innerException: e);
        }
    }

    /// <summary>
    /// Reads one segment's header and process table. Throws <see cref="SegmentNotFoundException"/> or
    /// <see cref="ForeignSegmentException"/> when there is no Membrane segment of that name.
    /// </summary>
    public static SegmentInfo Inspect(string name, SegmentBacking backing = SegmentBacking.SharedMemory)
    {
        string canonical = Canonical(name, backing);
        using var view = SegmentView.Open(canonical, backing);
        Interop.StatX stat = SegmentFiles.Stat(view.Descriptor, canonical);
        long size = view.Size;
        ref SegmentHeader header = ref view.Header;
        ProcessTable table = view.Processes;
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
        if (backing == SegmentBacking.SharedMemory && SegmentFiles.CreatorOf(canonical) is { } creator)
        {
            // What a creator left (or is still building): its own process is the only one that counts.
            if (!TryRemove(InspectCreation(canonical, creator), force))
            {
                throw new SegmentInUseException("Its creator is still building it; use force to remove it anyway.", canonical,
                    expected: "a creator that died", found: $"creator pid {creator.Pid} alive");
            }
            return;
        }
        SegmentInfo info = Inspect(canonical, backing);
        if (TryRemove(info, force))
        {
            return;
        }
        // Inspecting again says what stopped us: gone meanwhile (not found), who is attached, or another remover.
        int[] pids = Inspect(canonical, backing).Processes.Where(p => p.IsAlive).Select(p => p.Process.Pid).ToArray();
        throw pids.Length > 0
            ? new SegmentInUseException("Live processes are attached to it; use force to remove it anyway.", canonical,
                expected: "no live process attached", found: $"pids {string.Join(", ", pids)}")
            : new SegmentInUseException("Another process is removing it right now.", canonical,
                expected: "no other remover", found: "the removal claim held by a live process");
    }

    /// <summary>
    /// Removes what is garbage by its kind's rules (<see cref="SegmentInfo.IsCollectable"/>): segments created to be
    /// removed when unused that no live process holds, segments whose creator died before they were ready, and
    /// creations whose creator died. Journals and other persistent segments stay unless
    /// <paramref name="includePersistent"/>. Returns what it removed (with <paramref name="dryRun"/>, what it would).
    /// <paramref name="namePrefix"/> limits it to names (creation names included) that start with it.
    /// </summary>
    public static IReadOnlyList<SegmentInfo> CollectGarbage(bool dryRun = false, string? namePrefix = null, bool includePersistent = false)
    {
        var removed = new List<SegmentInfo>();
        foreach (SegmentInfo info in List().Where(i => i.IsCollectable(includePersistent) && i.Name.StartsWith(namePrefix ?? "", StringComparison.Ordinal)))
        {
            try
            {
                if (dryRun || TryRemove(info, force: false))
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
    /// What a creation file shows: its header if the creator got as far as the magic, else only its name's creator;
    /// the creator is alive while it holds the file's creation lock.
    /// </summary>
    private static SegmentInfo InspectCreation(string name, ProcessIdentity creator)
    {
        SegmentInfo? header = null;
        try
        {
            header = Inspect(name);
        }
        catch (ForeignSegmentException)
        {
            // Its creator died (or is still) before writing the magic.
        }
        using SafeFileDescriptor fd = SegmentFiles.Open(name, SegmentBacking.SharedMemory, create: false, writable: false, default);
        bool alive = OfdLocks.IsLockedByOther(fd, SharedSegment.CreatorLockOffset, name);
        return (header ?? Blank(name)) with { InCreation = true, Creator = creator, CreatorAlive = alive };
    }

    private static SegmentInfo Blank(string name)
    {
        long size = new FileInfo(SegmentFiles.PathOf(name, SegmentBacking.SharedMemory)).Length;
        return new SegmentInfo
        {
            Name = name, Backing = SegmentBacking.SharedMemory, FileSize = size, LayoutVersion = 0, Kind = SegmentKind.None,
            State = SegmentState.Blank, PayloadSize = 0, PayloadType = TypeFingerprint.None, Creator = default, CreatorAlive = false,
            CreatedAt = default, RemoveWhenUnused = false, Mode = 0, OwnerUid = 0, Processes = [],
        };
    }

    /// <summary>
    /// Unlinks the segment <paramref name="info"/> describes, if it is still the file under that name and still
    /// removable: for a ready segment, under the removal claim of <see cref="ProcessTable"/> (so that nobody attaches as
    /// we unlink) unless <paramref name="force"/>, then marked removed; for an abandoned one, after the CAS to Abandoned
    /// (so that a creator alive after all is never pulled); for a creation, once its creator is seen dead.
    /// </summary>
    private static bool TryRemove(SegmentInfo info, bool force)
    {
        using SafeFileDescriptor fd = SegmentFiles.Open(info.Name, info.Backing, create: false, writable: true, default);
        if (info.InCreation)
        {
            bool creatorAlive = OfdLocks.IsLockedByOther(fd, SharedSegment.CreatorLockOffset, info.Name);
            return (force || !creatorAlive) && SegmentFiles.UnlinkIfSame(info.Name, info.Backing, fd);
        }
        long size = SegmentFiles.SegmentSize(fd, info.Name);
        using MappedMemory mapping = MappedMemory.MapOrThrow(fd, size, writable: true, info.Name);
        ref SegmentHeader header = ref *(SegmentHeader*)mapping.Pointer;
        var processes = new ProcessTable(mapping.Pointer, fd, info.Name);
        int state = Volatile.Read(ref header.State);
        if (state == (int)SegmentState.Ready)
        {
            if (!force && !processes.TryClaimRemoval(ProcessIdentity.Current))
            {
                return false;
            }
            return SharedSegment.RemoveClaimed(processes, info.Name, info.Backing, fd);
        }
        var creator = ProcessIdentity.Unpack(header.CreatorIdentity, header.CreatorBootTag);
        bool abandoned = force || state == (int)SegmentState.Abandoned
            || (!creator.IsAlive() && Interlocked.CompareExchange(ref header.State, (int)SegmentState.Abandoned, state) == state);
        return abandoned && SegmentFiles.UnlinkIfSame(info.Name, info.Backing, fd);
    }

    private static string Canonical(string name, SegmentBacking backing) =>
        backing == SegmentBacking.File ? SegmentName.ValidatePath(name) : SegmentName.Validate(name);
}
