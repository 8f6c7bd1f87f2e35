using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int F_OFD_GETLK = 36;
    internal const int F_OFD_SETLK = 37;

    internal const short F_RDLCK = 0;
    internal const short F_WRLCK = 1;
    internal const short F_UNLCK = 2;

    internal const short SEEK_SET = 0;

    /// <summary>struct flock (x86_64 and arm64 Linux: 32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Flock
    {
        internal short Type;
        internal short Whence;
        internal long Start;
        internal long Length;
        internal int Pid;
    }

    // fcntl is variadic; on the Linux ABIs .NET runs on (x86_64, arm64) a variadic int or pointer is passed like a
    // fixed one, so a fixed three-argument signature is the same call.
    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(SafeFileDescriptor fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static unsafe partial int Fcntl(SafeFileDescriptor fd, int command, Flock* argument);
}
