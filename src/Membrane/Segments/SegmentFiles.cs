using Membrane.Native;

namespace Membrane.Segments;

/// <summary>The one place that turns (name, backing) into a descriptor, and unlinks by name.</summary>
internal static class SegmentFiles
{
    /// <summary>Opens (or with <paramref name="create"/>, exclusively creates) the object behind a name.</summary>
    internal static SafeFileDescriptor Open(string name, SegmentBacking backing, bool create, bool writable, UnixFileMode mode)
    {
        int flags = (writable ? Interop.O_RDWR : Interop.O_RDONLY) | Interop.O_CLOEXEC
            | (create ? Interop.O_CREAT | Interop.O_EXCL : 0);
        SafeFileDescriptor fd = backing switch
        {
            SegmentBacking.SharedMemory => Interop.ShmOpen("/" + name, flags, (uint)mode),
            SegmentBacking.File => Interop.Open(name, flags | Interop.O_NOFOLLOW, (uint)mode),
            _ => throw new ArgumentOutOfRangeException(nameof(backing), backing, "An anonymous segment has no name to open."),
        };
        if (fd.IsInvalid)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            NativeError.Throw(create ? "Creating the segment" : "Opening the segment", errno, name);
        }
        return fd;
    }

    /// <summary>Unlinks the name; false when it was gone already.</summary>
    internal static bool Unlink(string name, SegmentBacking backing)
    {
        int result = backing switch
        {
            SegmentBacking.SharedMemory => Interop.ShmUnlink("/" + name),
            SegmentBacking.File => Interop.Unlink(name),
            _ => 0,
        };
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
