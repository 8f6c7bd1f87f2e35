using System.Runtime.InteropServices;

namespace Membrane.Native;

/// <summary>
/// One <c>mmap</c>ed region, unmapped exactly once when released. A <see cref="SafeBuffer"/> so that the
/// length travels with the pointer and no use can outlive the mapping while a DangerousAddRef is held.
/// </summary>
internal sealed class MappedMemory : SafeBuffer
{
    public MappedMemory()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> shared, read-write or read-only.</summary>
    internal static MappedMemory Map(SafeFileDescriptor fd, long length, bool writable, out int errno)
    {
        int protection = writable ? Interop.PROT_READ | Interop.PROT_WRITE : Interop.PROT_READ;
        nint address = Interop.MMap(0, (nuint)length, protection, Interop.MAP_SHARED, fd, 0);
        errno = address == Interop.MAP_FAILED ? Interop.LastErrno : 0;
        var mapping = new MappedMemory();
        if (errno == 0)
        {
            mapping.SetHandle(address);
            mapping.Initialize((ulong)length);
        }
        return mapping;
    }

    internal unsafe byte* Pointer => (byte*)handle;

    internal long Length => (long)ByteLength;

    protected override bool ReleaseHandle() => Interop.MUnmap(handle, (nuint)ByteLength) == 0;
}
