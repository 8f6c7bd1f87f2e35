using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;
    internal const int SCM_RIGHTS = 1;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> of the 64-bit Linux ABIs (x86_64, arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary><c>struct cmsghdr</c> of the 64-bit Linux ABIs; its data follows at <see cref="CmsgHeaderSize"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>CMSG_LEN(0) and CMSG_ALIGN's unit on the 64-bit ABIs.</summary>
    internal const int CmsgHeaderSize = 16;

    /// <summary>CMSG_SPACE for <paramref name="dataBytes"/> bytes of data.</summary>
    internal static int CmsgSpace(int dataBytes) => CmsgHeaderSize + ((dataBytes + 7) & ~7);

    [LibraryImport(Libc, EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* descriptors);

    /// <summary>send(2) on a socket held as a plain descriptor (a wake-up end).</summary>
    [LibraryImport(Libc, EntryPoint = "send", SetLastError = true)]
    internal static unsafe partial nint Send(SafeFileDescriptor socket, void* buffer, nuint length, int flags);

    /// <summary>recv(2) on a socket held as a plain descriptor (a wake-up end).</summary>
    [LibraryImport(Libc, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(SafeFileDescriptor socket, void* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(SafeSocketHandle socket, MsgHdr* message, int flags);

    [LibraryImport(Libc, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(SafeSocketHandle socket, MsgHdr* message, int flags);

    [LibraryImport(Libc, EntryPoint = "readlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static unsafe partial nint ReadLink(string path, byte* buffer, nuint size);
}
