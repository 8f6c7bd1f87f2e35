using System.Runtime.InteropServices;
using Membrane.Errors;

namespace Membrane.Native;

/// <summary>
/// One <c>mmap</c>ed region, unmapped exactly once when released. A <see cref="SafeBuffer"/> so that the
/// length travels with the pointer and no use can outlive the mapping while a DangerousAddRef is held.
/// </summary>
internal sealed class MappedMemory : SafeBuffer
{
    /// <summary>What was mapped: the length asked for, rounded up to whole huge pages on hugetlbfs (whose munmap refuses less).</summary>
    private nuint _mappedLength;

    public MappedMemory()
        : base(ownsHandle: true)
    {
    }

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="fd"/> shared, read-write or read-only; with
    /// <paramref name="prefault"/> every page is faulted in now (<c>MAP_POPULATE</c>). On failure the errno is
    /// returned and the mapping is invalid. A file on hugetlbfs is mapped in whole huge pages.
    /// </summary>
    internal static MappedMemory Map(SafeFileDescriptor fd, long length, bool writable, out int errno, bool prefault = false)
    {
        int protection = writable ? Interop.PROT_READ | Interop.PROT_WRITE : Interop.PROT_READ;
        int flags = Interop.MAP_SHARED | (prefault ? Interop.MAP_POPULATE : 0);
        long hugePage = HugePageSize(fd);
        nuint mapped = (nuint)(hugePage > 0 ? RoundUp(length, hugePage) : length);
        nint address = Interop.MMap(0, mapped, protection, flags, fd, 0);
        errno = address == Interop.MAP_FAILED ? Interop.LastErrno : 0;
        var memory = new MappedMemory();
        if (errno == 0)
        {
            memory._mappedLength = mapped;
            memory.SetHandle(address);
            memory.Initialize((ulong)length);
        }
        return memory;
    }

    /// <summary><see cref="Map"/>, with a failure thrown as the errno's exception naming <paramref name="name"/>.</summary>
    internal static MappedMemory MapOrThrow(SafeFileDescriptor fd, long length, bool writable, string name, bool prefault = false)
    {
        MappedMemory memory = Map(fd, length, writable, out int errno, prefault);
        if (errno != 0)
        {
            memory.Dispose();
            NativeError.Throw("mmap", errno, name);
        }
        return memory;
    }

    /// <summary>
    /// <see cref="Map"/> for a segment, read-write, optionally locked in memory (<c>mlock</c>: its pages stay in RAM
    /// until unmapped); a failure of either call is thrown, naming <paramref name="name"/>.
    /// </summary>
    internal static MappedMemory MapSegment(SafeFileDescriptor fd, long length, bool prefault, bool lockInMemory, string name)
    {
        MappedMemory memory = MapOrThrow(fd, length, writable: true, name, prefault);
        if (lockInMemory && Interop.MLock(memory.handle, memory._mappedLength) != 0)
        {
            int errno = Interop.LastErrno;
            memory.Dispose();
            throw new NativeCallException("mlock failed: the segment cannot be locked in memory.", name,
                expected: $"{length:N0} bytes this process may lock (RLIMIT_MEMLOCK, 'ulimit -l'; CAP_IPC_LOCK lifts it)",
                found: errno == Interop.ENOMEM || errno == Interop.EAGAIN ? "the limit reached" : "mlock refused", errno: errno);
        }
        return memory;
    }

    /// <summary>The huge page size when <paramref name="fd"/> is a file on hugetlbfs, else 0.</summary>
    internal static long HugePageSize(SafeFileDescriptor fd) =>
        Interop.FStatFs(fd, out Interop.StatFs fileSystem) == 0 && fileSystem.Type == Interop.HUGETLBFS_MAGIC && fileSystem.BlockSize > 0
            ? fileSystem.BlockSize
            : 0;

    internal static long RoundUp(long length, long unit) => (length + unit - 1) / unit * unit;

    internal unsafe byte* Pointer => (byte*)handle;

    internal long Length => (long)ByteLength;

    protected override bool ReleaseHandle() => Interop.MUnmap(handle, _mappedLength) == 0;
}
