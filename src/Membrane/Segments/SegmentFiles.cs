using System.Globalization;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Segments;

/// <summary>The one place that turns (name, backing) into a descriptor, and unlinks by name.</summary>
internal static class SegmentFiles
{
    /// <summary>
    /// Opens (or with <paramref name="create"/>, exclusively creates) the regular file behind a name. Anything else is a
    /// <see cref="ForeignSegmentException"/>, found out without waiting: /dev/shm is world-writable, and a FIFO opened
    /// without O_NONBLOCK would hang the opener until someone opened its other end. Links are not followed.
    /// </summary>
    internal static SafeFileDescriptor Open(string name, SegmentBacking backing, bool create, bool writable, UnixFileMode mode)
    {
        int flags = (writable ? Interop.O_RDWR : Interop.O_RDONLY) | Interop.O_CLOEXEC | Interop.O_NOFOLLOW
            | (create ? Interop.O_CREAT | Interop.O_EXCL : Interop.O_NONBLOCK); // O_NONBLOCK changes nothing for a regular file
        // Both named backings are a file opened by path: glibc's shm_open is exactly open(2) of /dev/shm/NAME with
        // O_NOFOLLOW | O_CLOEXEC, so one call serves /dev/shm, $MEMBRANE_DIR and a file of the caller's.
        SafeFileDescriptor fd = backing == SegmentBacking.Anonymous
            ? throw new ArgumentOutOfRangeException(nameof(backing), backing, "An anonymous segment has no name to open.")
            : Interop.Open(PathOf(name, backing), flags, (uint)mode);
        if (fd.IsInvalid)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            throw errno switch
            {
                Interop.ELOOP => new ForeignSegmentException("It is a symbolic link; Membrane does not follow links.", name,
                    expected: "a regular file", found: "a symbolic link", errno: errno),
                Interop.ENXIO => new ForeignSegmentException("It is not a regular file.", name, expected: "a regular file", found: "a socket", errno: errno),
                Interop.ENOENT when !System.IO.Directory.Exists(DirectoryOf(name, backing)) => new SegmentNotFoundException(
                    $"The directory {DirectoryOf(name, backing)} does not exist.", name, expected: "an existing directory", errno: errno),
                _ => NativeError.Create(create ? "Creating the segment" : "Opening the segment", errno, name),
            };
        }
        int type = Stat(fd, name).Mode & Interop.S_IFMT;
        if (type != Interop.S_IFREG)
        {
            fd.Dispose();
            throw new ForeignSegmentException("It is not a regular file.", name, expected: "a regular file", found: FileType(type));
        }
        return fd;
    }

    /// <summary>
    /// The size of a segment's file, if it is plausible: at least a header, at most a header and the largest payload.
    /// Anything else is a <see cref="ForeignSegmentException"/>, before anything is mapped. (Under its name, a short
    /// file is never a segment in the making: segments are renamed into place only once whole.)
    /// </summary>
    internal static long SegmentSize(SafeFileDescriptor fd, string name)
    {
        long size = (long)Stat(fd, name).Size;
        long largest = SegmentHeaderLayout.Size + SegmentHeaderLayout.MaxPayloadSize;
        return size is >= SegmentHeaderLayout.Size and <= SegmentHeaderLayout.Size + SegmentHeaderLayout.MaxPayloadSize
            ? size
            : throw new ForeignSegmentException("It is not a Membrane segment.", name,
                expected: $"a file of {SegmentHeaderLayout.Size:N0} to {largest:N0} bytes", found: $"a file of {size:N0} bytes");
    }

    private static string FileType(int type) => type switch
    {
        Interop.S_IFIFO => "a FIFO",
        Interop.S_IFSOCK => "a socket",
        Interop.S_IFDIR => "a directory",
        Interop.S_IFLNK => "a symbolic link",
        Interop.S_IFCHR => "a character device",
        Interop.S_IFBLK => "a block device",
        _ => $"file type 0x{type:x4}",
    };

    /// <summary>What the names of segments still being built start with (a dot: hidden from a plain <c>ls</c>).</summary>
    internal const string CreationPrefix = ".membrane-creating-";

    private static int s_creations;

    /// <summary>
    /// The name a segment is built under, in the same directory as <paramref name="name"/>: it carries its creator's
    /// pid and start time, so that what a creator killed half-way leaves behind is recognised as debris by its name
    /// alone (its header may not be written).
    /// </summary>
    internal static string CreationName(string name, SegmentBacking backing)
    {
        ProcessIdentity me = ProcessIdentity.Current;
        string file = string.Create(CultureInfo.InvariantCulture, $"{CreationPrefix}{me.Pid}-{me.StartTicks}-{Interlocked.Increment(ref s_creations)}");
        return backing == SegmentBacking.File ? Path.Combine(Path.GetDirectoryName(name) ?? "", file) : file;
    }

    /// <summary>The creator a creation name records, or null when <paramref name="fileName"/> is not one.</summary>
    internal static ProcessIdentity? CreatorOf(string fileName)
    {
        if (!fileName.StartsWith(CreationPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        string[] parts = fileName[CreationPrefix.Length..].Split('-');
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            && uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint start)
            ? new ProcessIdentity(pid, start, 0)
            : null;
    }

    /// <summary>
    /// Gives the segment built under <paramref name="building"/> its name, atomically and only if the name is free:
    /// nobody ever opens a segment under its name before it is whole. <see cref="SegmentAlreadyExistsException"/> if taken.
    /// </summary>
    internal static void Publish(string building, string name, SegmentBacking backing) =>
        RenameNoReplace(PathOf(building, backing), PathOf(name, backing), name);

    /// <summary>rename(2) that fails (<see cref="SegmentAlreadyExistsException"/>) rather than replace what is at <paramref name="to"/>.</summary>
    internal static void RenameNoReplace(string from, string to, string? label = null)
    {
        if (Interop.RenameAt2(Interop.AT_FDCWD, from, Interop.AT_FDCWD, to, Interop.RENAME_NOREPLACE) != 0)
        {
            NativeError.Throw("Publishing under its name", Interop.LastErrno, label ?? to);
        }
    }

    /// <summary>Whether a name exists now (a hint only: it may change before the caller acts; never opens the file).</summary>
    internal static bool Exists(string name, SegmentBacking backing) => Path.Exists(PathOf(name, backing));

    /// <summary>The file system path of a named segment.</summary>
    internal static string PathOf(string name, SegmentBacking backing) =>
        backing == SegmentBacking.SharedMemory ? SegmentName.Directory + "/" + name : name;

    /// <summary>The directory a named segment's file is in: where a full file system or a missing directory is looked for.</summary>
    internal static string DirectoryOf(string name, SegmentBacking backing) =>
        backing == SegmentBacking.File ? Path.GetDirectoryName(Path.GetFullPath(name)) ?? "/" : SegmentName.Directory;

    /// <summary>Unlinks the name; false when it was gone already.</summary>
    internal static bool Unlink(string name, SegmentBacking backing)
    {
        // shm_unlink is unlink(2) of the same path (see Open).
        int result = backing == SegmentBacking.Anonymous ? 0 : Interop.Unlink(PathOf(name, backing));
        if (result == 0)
        {
            return true;
        }
        int errno = Interop.LastErrno;
        if (errno == Interop.ENOENT)
        {
            return false;
        }
        NativeError.Throw("Removing the segment", errno, name);
        return false;
    }

    /// <summary>
    /// Unlinks the name only if it still refers to the object <paramref name="fd"/> has open: a segment removed and
    /// created anew under the same name in the meantime belongs to someone else.
    /// </summary>
    internal static bool UnlinkIfSame(string name, SegmentBacking backing, SafeFileDescriptor fd)
    {
        if (backing == SegmentBacking.Anonymous)
        {
            return false;
        }
        SafeFileDescriptor current;
        try
        {
            current = Open(name, backing, create: false, writable: false, default);
        }
        catch (SegmentNotFoundException)
        {
            return false;
        }
        using (current)
        {
            if (!SameObject(fd, current))
            {
                return false;
            }
        }
        return Unlink(name, backing);
    }

    internal static Interop.StatX Stat(SafeFileDescriptor fd, string name)
    {
        if (Interop.FStat(fd, out Interop.StatX stat) != 0)
        {
            NativeError.Throw("fstat of the segment", Interop.LastErrno, name);
        }
        return stat;
    }

    private static bool SameObject(SafeFileDescriptor a, SafeFileDescriptor b) =>
        Interop.FStat(a, out Interop.StatX sa) == 0 && Interop.FStat(b, out Interop.StatX sb) == 0
        && sa.Inode == sb.Inode && sa.DevMajor == sb.DevMajor && sa.DevMinor == sb.DevMinor;
}
