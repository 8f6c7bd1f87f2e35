using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary>preadv2's per-call "do not block", which a peer sharing the file description cannot take away (unlike O_NONBLOCK).</summary>
    internal const int RWF_NOWAIT = 0x8;

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial SafeFileDescriptor EventFd(uint initialValue, int flags);

    [LibraryImport(Libc, EntryPoint = "preadv2", SetLastError = true)]
    internal static unsafe partial nint PReadV2(SafeFileDescriptor fd, IoVec* vectors, int count, long offset, int flags);
}
