using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    /// <summary><c>HUGETLBFS_MAGIC</c> (linux/magic.h): the file system type of a hugetlbfs mount.</summary>
    internal const long HUGETLBFS_MAGIC = 0x958458f6;

    /// <summary>
    /// The head of <c>struct statfs</c> on 64-bit Linux (x86_64 and arm64 alike: 120 bytes, <c>f_type</c> and
    /// <c>f_bsize</c> first, each a machine word). Only those two are read: on hugetlbfs, f_bsize is the huge page size.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 120)]
    internal struct StatFs
    {
        [FieldOffset(0)] public long Type;
        [FieldOffset(8)] public long BlockSize;
    }

    [LibraryImport(Libc, EntryPoint = "fstatfs", SetLastError = true)]
    internal static partial int FStatFs(SafeFileDescriptor fd, out StatFs buffer);
}
