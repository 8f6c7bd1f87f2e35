using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const uint STATX_BASIC_STATS = 0x7ff;

    internal const int S_IFMT = 0xF000;
    internal const int S_IFSOCK = 0xC000;
    internal const int S_IFLNK = 0xA000;
    internal const int S_IFREG = 0x8000;
    internal const int S_IFBLK = 0x6000;
    internal const int S_IFDIR = 0x4000;
    internal const int S_IFCHR = 0x2000;
    internal const int S_IFIFO = 0x1000;

    /// <summary>
    /// <c>struct statx</c> (linux/stat.h). Membrane's fstat goes through statx because, unlike <c>struct stat</c>,
    /// its layout is the same on every architecture, so one declaration serves x86_64 and arm64.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatX
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(4)] public uint BlockSize;
        [FieldOffset(8)] public ulong Attributes;
        [FieldOffset(16)] public uint LinkCount;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(48)] public ulong Blocks;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatXCall(SafeFileDescriptor dirfd, string path, int flags, uint mask, out StatX result);

    /// <summary>fstat(2) by way of statx(fd, "", AT_EMPTY_PATH).</summary>
    internal static int FStat(SafeFileDescriptor fd, out StatX result) =>
        StatXCall(fd, string.Empty, AT_EMPTY_PATH, STATX_BASIC_STATS, out result);
}
