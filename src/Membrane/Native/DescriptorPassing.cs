using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Membrane.Errors;

namespace Membrane.Native;

/// <summary>
/// Sends and receives file descriptors over a connected Unix domain socket (<c>SCM_RIGHTS</c>), which .NET's
/// <see cref="Socket"/> does not expose. Receiving trusts nothing: it waits a bounded time, takes at most the
/// descriptors it asked for, and owns (and so closes) every descriptor that arrived, whatever happens next.
/// </summary>
internal static unsafe class DescriptorPassing
{
    /// <summary>The most descriptors one message carries; a sender offering more is refused.</summary>
    internal const int MaxDescriptors = 16;

    /// <summary>What a call to <see cref="Receive"/> got.</summary>
    internal enum Outcome
    {
        Received,
        TimedOut,
        PeerClosed,
        Truncated,
    }

    /// <summary>Sends <paramref name="bytes"/> (at least one) and <paramref name="descriptors"/> as one message; returns errno, 0 when sent whole.</summary>
    internal static int Send(Socket socket, ReadOnlySpan<byte> bytes, ReadOnlySpan<SafeFileDescriptor> descriptors)
    {
        if (bytes.IsEmpty || descriptors.Length > MaxDescriptors)
        {
            throw new ArgumentException("One message carries 1 or more bytes and at most 16 descriptors.");
        }
        int controlLength = Interop.CmsgSpace(descriptors.Length * sizeof(int));
        byte* control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        var header = (Interop.CmsgHdr*)control;
        header->Length = (nuint)(Interop.CmsgHeaderSize + (descriptors.Length * sizeof(int)));
        header->Level = Interop.SOL_SOCKET;
        header->Type = Interop.SCM_RIGHTS;
        int added = 0;
        try
        {
            for (; added < descriptors.Length; added++)
            {
                bool addedRef = false;
                descriptors[added].DangerousAddRef(ref addedRef);
                ((int*)(control + Interop.CmsgHeaderSize))[added] = descriptors[added].Number;
            }
            fixed (byte* data = bytes)
            {
                var vector = new Interop.IoVec { Base = data, Length = (nuint)bytes.Length };
                var message = new Interop.MsgHdr { Iov = &vector, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
                nint sent = Interop.SendMsg(socket.SafeHandle, &message, Interop.MSG_DONTWAIT | Interop.MSG_NOSIGNAL);
                return sent < 0 ? Interop.LastErrno : sent == bytes.Length ? 0 : Interop.EAGAIN;
            }
        }
        finally
        {
            for (int i = 0; i < added; i++)
            {
                descriptors[i].DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for one message and receives it: up to <paramref name="buffer"/>'s
    /// length of bytes and up to <paramref name="maxDescriptors"/> descriptors, which the caller then owns.
    /// <see cref="Outcome.Truncated"/> when the message or its descriptors did not fit (nothing of it is kept).
    /// </summary>
    internal static Outcome Receive(Socket socket, Span<byte> buffer, int maxDescriptors, TimeSpan timeout,
        out int length, out SafeFileDescriptor[] descriptors)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDescriptors, MaxDescriptors);
        length = 0;
        descriptors = [];
        if (!WaitReadable(socket, timeout))
        {
            return Outcome.TimedOut;
        }
        int controlLength = Interop.CmsgSpace(MaxDescriptors * sizeof(int));
        byte* control = stackalloc byte[controlLength];
        nint received;
        Interop.MsgHdr message;
        fixed (byte* data = buffer)
        {
            var vector = new Interop.IoVec { Base = data, Length = (nuint)buffer.Length };
            message = new Interop.MsgHdr { Iov = &vector, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            received = Interop.RecvMsg(socket.SafeHandle, &message, Interop.MSG_DONTWAIT | Interop.MSG_CMSG_CLOEXEC);
        }
        if (received < 0)
        {
            int errno = Interop.LastErrno;
            return errno == Interop.EAGAIN ? Outcome.TimedOut : throw NativeError.Create("recvmsg", errno, null);
        }
        // Own every descriptor that arrived before judging the message, so that none leaks whatever the verdict.
        List<SafeFileDescriptor> arrived = TakeDescriptors(control, (long)message.ControlLength);
        bool fits = (message.Flags & (Interop.MSG_CTRUNC | Interop.MSG_TRUNC)) == 0 && arrived.Count <= maxDescriptors;
        if (received == 0 && arrived.Count == 0)
        {
            return Outcome.PeerClosed;
        }
        if (!fits)
        {
            arrived.ForEach(fd => fd.Dispose());
            return Outcome.Truncated;
        }
        length = (int)received;
        descriptors = [.. arrived];
        return Outcome.Received;
    }

    /// <summary>
    /// Who is at the other end of a connected Unix socket, as the kernel recorded it when the connection was made
    /// (SO_PEERCRED, struct ucred): pid (as this process's PID namespace numbers it), uid, gid. Nothing the peer sends.
    /// </summary>
    internal static (int Pid, uint Uid, uint Gid) ReadPeerCredentials(Socket socket, string label)
    {
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            int length = socket.GetRawSocketOption(Interop.SOL_SOCKET, Interop.SO_PEERCRED, ucred);
            if (length == ucred.Length)
            {
                return (BinaryPrimitives.ReadInt32LittleEndian(ucred), BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
            }
        }
        catch (SocketException e)
        {
            throw new PeerGoneException("The peer's credentials could not be read from its socket.", label, expected: "a connected Unix socket", found: e.SocketErrorCode.ToString(), innerException: e);
        }
        throw new PeerGoneException("The peer's credentials could not be read from its socket.", label, expected: "12 bytes of struct ucred", found: "fewer");
    }

    /// <summary>True when the peer hung up or shut its sending side down: it will never signal again.</summary>
    internal static bool PeerHungUp(Socket socket)
    {
        var poll = new Interop.PollFd { Fd = (int)socket.Handle, Events = Interop.POLLRDHUP };
        return Interop.Poll(&poll, 1, 0) > 0 && (poll.Returned & (Interop.POLLRDHUP | Interop.POLLHUP | Interop.POLLERR | Interop.POLLNVAL)) != 0;
    }

    private static bool WaitReadable(Socket socket, TimeSpan timeout)
    {
        bool forever = timeout == Timeout.InfiniteTimeSpan;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var poll = new Interop.PollFd { Fd = (int)socket.Handle, Events = Interop.POLLIN };
            int ready = Interop.Poll(&poll, 1, forever ? -1 : (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue));
            if (ready > 0)
            {
                return true; // readable, or hung up: recvmsg tells which
            }
            if (ready < 0 && Interop.LastErrno != Interop.EINTR)
            {
                throw NativeError.Create("poll", Interop.LastErrno, null);
            }
            if (!forever && Environment.TickCount64 >= deadline)
            {
                return false;
            }
        }
    }

    private static List<SafeFileDescriptor> TakeDescriptors(byte* control, long controlLength)
    {
        var arrived = new List<SafeFileDescriptor>();
        long offset = 0;
        while (offset + Interop.CmsgHeaderSize <= controlLength)
        {
            var header = (Interop.CmsgHdr*)(control + offset);
            long length = (long)header->Length;
            if (length < Interop.CmsgHeaderSize || offset + length > controlLength)
            {
                break;
            }
            if (header->Level == Interop.SOL_SOCKET && header->Type == Interop.SCM_RIGHTS)
            {
                int count = (int)((length - Interop.CmsgHeaderSize) / sizeof(int));
                for (int i = 0; i < count; i++)
                {
                    arrived.Add(new SafeFileDescriptor(Unsafe.ReadUnaligned<int>(control + offset + Interop.CmsgHeaderSize + (i * sizeof(int))), ownsHandle: true));
                }
            }
            offset += (length + 7) & ~7L;
        }
        return arrived;
    }
}
