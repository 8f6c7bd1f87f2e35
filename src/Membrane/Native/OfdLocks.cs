using Membrane.Errors;

namespace Membrane.Native;

/// <summary>
/// Open-file-description locks (<c>F_OFD_SETLK</c>) on single bytes of a segment's file: how a process says "I am
/// alive and here" in a way every process can check, in any PID namespace or container that shares the file. The
/// kernel drops such a lock when the last descriptor of its open file description closes, so it outlives neither the
/// handle that took it nor the process (a <c>kill -9</c> included). Locks are advisory: they never touch the bytes.
/// <para>
/// A lock taken through one open file description is invisible to a probe through that same description (no
/// conflict with itself): a probe answers for other handles and other processes, never for the prober's own handle.
/// </para>
/// </summary>
internal static unsafe class OfdLocks
{
    /// <summary>Takes a shared lock on byte <paramref name="offset"/>; several handles may share one.</summary>
    internal static void LockShared(SafeFileDescriptor fd, long offset, string segmentName)
    {
        if (!TrySet(fd, offset, Interop.F_RDLCK, out int errno))
        {
            NativeError.Throw("Taking the liveness lock (fcntl F_OFD_SETLK)", errno, segmentName);
        }
    }

    /// <summary>Takes the exclusive lock on byte <paramref name="offset"/>; false if another handle holds any lock on it.</summary>
    internal static bool TryLockExclusive(SafeFileDescriptor fd, long offset, string segmentName)
    {
        if (TrySet(fd, offset, Interop.F_WRLCK, out int errno))
        {
            return true;
        }
        return errno is Interop.EAGAIN or Interop.EACCES ? false : throw NativeError.Create("Taking a lock (fcntl F_OFD_SETLK)", errno, segmentName);
    }

    /// <summary>Drops this handle's lock on byte <paramref name="offset"/> (other handles' locks stay).</summary>
    internal static void Unlock(SafeFileDescriptor fd, long offset) => TrySet(fd, offset, Interop.F_UNLCK, out _);

    /// <summary>Whether another open file description (another handle, another process) holds a lock on byte <paramref name="offset"/>.</summary>
    internal static bool IsLockedByOther(SafeFileDescriptor fd, long offset, string segmentName)
    {
        Interop.Flock probe = Byte(offset, Interop.F_WRLCK);
        if (Interop.Fcntl(fd, Interop.F_OFD_GETLK, &probe) != 0)
        {
            NativeError.Throw("Probing a liveness lock (fcntl F_OFD_GETLK)", Interop.LastErrno, segmentName);
        }
        return probe.Type != Interop.F_UNLCK;
    }

    private static bool TrySet(SafeFileDescriptor fd, long offset, short type, out int errno)
    {
        Interop.Flock request = Byte(offset, type);
        errno = Interop.Fcntl(fd, Interop.F_OFD_SETLK, &request) == 0 ? 0 : Interop.LastErrno;
        return errno == 0;
    }

    private static Interop.Flock Byte(long offset, short type) => new() { Type = type, Whence = Interop.SEEK_SET, Start = offset, Length = 1 };
}
