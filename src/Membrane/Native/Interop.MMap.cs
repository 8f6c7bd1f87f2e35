using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_POPULATE = 0x8000;
    internal const int MS_SYNC = 0x4;
    internal static readonly nint MAP_FAILED = -1;

    [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MMap(nint address, nuint length, int protection, int flags, SafeFileDescriptor fd, long offset);

    [LibraryImport(Libc, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(nint address, nuint length);

    [LibraryImport(Libc, EntryPoint = "mlock", SetLastError = true)]
    internal static partial int MLock(nint address, nuint length);

    [LibraryImport(Libc, EntryPoint = "msync", SetLastError = true)]
    internal static partial int MSync(nint address, nuint length, int flags);
}
