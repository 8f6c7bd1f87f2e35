using System.Diagnostics;
using System.Text;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Native;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

public sealed unsafe partial class SharedSegment
{
    /// <summary>
    /// Creates a segment with <paramref name="payloadSize"/> bytes of payload; fails with
    /// <see cref="SegmentAlreadyExistsException"/> if the name is taken. The whole size is reserved at once, so a full
    /// /dev/shm is an <see cref="InsufficientSharedMemoryException"/> now, never a SIGBUS later.
    /// </summary>
    public static SharedSegment Create(string name, long payloadSize, SegmentOptions? options = null) =>
        Create(name, payloadSize, PayloadSpec.Raw, options ?? SegmentOptions.Default, initialize: null);

    /// <summary>Creates an anonymous segment (a memfd): no name in any namespace, shared by passing its descriptor.</summary>
    public static SharedSegment CreateAnonymous(string label, long payloadSize, SegmentOptions? options = null) =>
        Create(label, payloadSize, PayloadSpec.Raw, (options ?? SegmentOptions.Default) with { Backing = SegmentBacking.Anonymous }, initialize: null);

    /// <summary>
    /// The one creation path. A named segment is built whole under a creation name of its own (see
    /// <see cref="SegmentFiles.CreationName"/>), then renamed into place only if its name is free: no opener ever
    /// sees it half-built, a creator that dies leaves its name free and a file <c>membrane gc</c> knows for debris,
    /// and nobody has to guess whether a slow creator (in <c>posix_fallocate</c> of a large segment) is still alive.
    /// <paramref name="initialize"/> lays out the payload while the state is still Initialising.
    /// </summary>
    internal static SharedSegment Create(string name, long payloadSize, PayloadSpec spec, SegmentOptions options, Action<SharedSegment>? initialize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(payloadSize);
        (name, options) = options.Place(name);
        if (payloadSize > L.MaxPayloadSize)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadSize), payloadSize, $"Segment '{name}': a payload is at most {L.MaxPayloadSize:N0} bytes (1 TiB).");
        }
        string canonical = Canonical(name, options.Backing);
        long totalSize = L.TotalSizeFor(payloadSize);
        bool named = options.Backing != SegmentBacking.Anonymous;
        if (named && SegmentFiles.Exists(canonical, options.Backing))
        {
            // Only to fail early (without reserving a large segment first); the rename below is what decides.
            throw new SegmentAlreadyExistsException("A segment of this name exists already.", canonical, errno: Interop.EEXIST);
        }
        string building = named ? SegmentFiles.CreationName(canonical, options.Backing) : canonical;

        SafeFileDescriptor fd = named
            ? SegmentFiles.Open(building, options.Backing, create: true, writable: true, options.Mode)
            : CreateMemfd(canonical);
        MappedMemory? mapping = null;
        SharedSegment? segment = null;
        try
        {
            if (named && !OfdLocks.TryLockExclusive(fd, CreatorLockOffset, building))
            {
                throw new SegmentInUseException("Another process holds the creation lock of a file this process just created.", building);
            }
            // open(2) applies the umask; the mode asked for is the mode meant.
            if (Interop.FChmod(fd, (uint)options.Mode) != 0)
            {
                NativeError.Throw("fchmod", Interop.LastErrno, canonical);
            }
            if (MappedMemory.HugePageSize(fd) is > 0 and long hugePage)
            {
                // On hugetlbfs a writable mapping grows the file to whole huge pages: the segment is that size from the start,
                // so that its header and its file agree for every opener; the kinds use what they asked for and ignore the rest.
                totalSize = MappedMemory.RoundUp(totalSize, hugePage);
                payloadSize = totalSize - L.Size;
            }
            Reserve(fd, canonical, totalSize, options.Backing);
            mapping = MapFor(fd, totalSize, options, canonical);
            segment = new SharedSegment(canonical, options.Backing, fd, mapping);
            segment.Initialise(spec, payloadSize, options, initialize);
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.SegmentCreateBeforePublish);
            }
            if (named)
            {
                SegmentFiles.Publish(building, canonical, options.Backing);
                OfdLocks.Unlock(fd, CreatorLockOffset);
            }
            return segment;
        }
        catch
        {
            if (named)
            {
                SegmentFiles.Unlink(building, options.Backing); // only ever ours; gone already once published
            }
            if (segment is not null)
            {
                segment._slot = -1;
                segment.Dispose();
            }
            else
            {
                mapping?.Dispose();
                fd.Dispose();
            }
            throw;
        }
    }

    private void Initialise(PayloadSpec spec, long payloadSize, SegmentOptions options, Action<SharedSegment>? initialize)
    {
        ref SegmentHeader header = ref Header;
        ProcessIdentity me = ProcessIdentity.Current;
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.SegmentCreateBeforeHeader);
        }

        // The magic and who is initialising go in first: `membrane ls`/`gc` recognise the segment from then on, and
        // an opener finding the creator dead can tell a stalled creation from a live one. Published by the CAS below
        // (a full fence), which a repairer races with its own CAS to Abandoned.
        header.Magic = L.Magic;
        header.CreatorIdentity = me.Packed;
        header.CreatorBootTag = me.BootTag;
        if (Interlocked.CompareExchange(ref header.State, (int)SegmentState.Initialising, (int)SegmentState.Blank) != (int)SegmentState.Blank)
        {
            throw new SegmentAbandonedException("Another process declared the segment abandoned while it was being created.", Name);
        }

        header.LayoutVersion = L.LayoutVersion;
        header.Kind = (ushort)spec.Kind;
        header.HeaderSize = L.Size;
        header.TotalSize = _mapping.Length;
        header.PayloadOffset = L.Size;
        header.PayloadSize = _mapping.Length - L.Size;
        header.TypeFingerprint = spec.Type.Value;
        header.PayloadTypeSize = (uint)spec.Type.Size;
        header.ProcessSlotCount = L.ProcessSlotCount;
        header.CreatedUnixNanoseconds = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        header.Flags = (uint)(options.RemoveWhenUnused ? SegmentFlags.RemoveWhenUnused : SegmentFlags.None);
        Adopt(in header);
        Span<byte> typeName = header.TypeName;
        Encoding.UTF8.GetBytes(Truncate(spec.Type.Name, typeName.Length), typeName);
        Debug.Assert(header.PayloadSize >= payloadSize, "payload rounded down");

        initialize?.Invoke(this);
        if (options.Backing != SegmentBacking.Anonymous)
        {
            _slot = Processes.Attach(me, Name);
        }

        // Release of everything above; pairs with the Volatile.Read of State in Open.
        if (Interlocked.CompareExchange(ref header.State, (int)SegmentState.Ready, (int)SegmentState.Initialising) != (int)SegmentState.Initialising)
        {
            throw new SegmentAbandonedException("Another process declared the segment abandoned while it was being initialised.", Name);
        }
    }

    /// <summary>
    /// The byte of a creation file its creator locks (exclusive) until the segment is published: how
    /// <c>membrane gc</c> tells a creator still at work (a large posix_fallocate takes seconds) from one that died, in
    /// any PID namespace. The first byte of the header's creator field.
    /// </summary>
    internal const long CreatorLockOffset = L.CreatorIdentityOffset;

    /// <summary>The one place a segment is mapped for use, as <see cref="SegmentOptions.Mapping"/> asks.</summary>
    private static MappedMemory MapFor(SafeFileDescriptor fd, long size, SegmentOptions options, string name) =>
        MappedMemory.MapSegment(fd, size, prefault: options.Mapping != SegmentMapping.Default,
            lockInMemory: options.Mapping.HasFlag(SegmentMapping.LockInMemory), name);

    /// <summary>posix_fallocate: the pages exist now or the call fails now, instead of a SIGBUS on first touch.</summary>
    private static void Reserve(SafeFileDescriptor fd, string name, long totalSize, SegmentBacking backing)
    {
        int error = Interop.PosixFAllocate(fd, 0, totalSize);
        if (error == 0)
        {
            return;
        }
        if (error is Interop.ENOSPC or Interop.EFBIG or Interop.ENOMEM)
        {
            string where = SegmentFiles.DirectoryOf(name, backing);
            throw new InsufficientSharedMemoryException(
                $"There is no room for the segment in {where}.", name,
                expected: $"{totalSize:N0} bytes free", found: $"{FreeBytes(where):N0} bytes free", errno: error);
        }
        NativeError.Throw("posix_fallocate", error, name);
    }

    private static long FreeBytes(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return -1;
        }
    }

    private static SafeFileDescriptor CreateMemfd(string label)
    {
        SafeFileDescriptor fd = Interop.MemfdCreate(label, Interop.MFD_CLOEXEC | Interop.MFD_ALLOW_SEALING);
        if (fd.IsInvalid)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            NativeError.Throw("memfd_create", errno, label);
        }
        return fd;
    }

    private static string Canonical(string name, SegmentBacking backing) => backing switch
    {
        SegmentBacking.SharedMemory => SegmentName.Validate(name),
        SegmentBacking.File => SegmentName.ValidatePath(name),
        _ => name.Length <= 249 ? name : name[..249], // memfd labels are at most 249 bytes; they only label
    };

    private static string Truncate(string text, int maxBytes)
    {
        while (Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            text = text[..^1];
        }
        return text;
    }
}
