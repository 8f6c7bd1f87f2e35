using System.Net.Sockets;
using Membrane.Native;

namespace Membrane.Rings;

/// <summary>
/// The process at the other end of an untrusted channel, as the kernel recorded it when the connection was made
/// (<c>SO_PEERCRED</c>): the peer cannot claim to be anyone else. <see cref="Pid"/> is as this process's PID namespace
/// numbers it (0 when the peer is in a namespace this one cannot see).
/// </summary>
/// <param name="Pid">The peer's process id.</param>
/// <param name="Uid">The peer's user id.</param>
/// <param name="Gid">The peer's group id.</param>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    /// <summary>The credentials of the process at the other end of <paramref name="socket"/> (<paramref name="label"/> names it in errors).</summary>
    internal static PeerCredentials Of(Socket socket, string label)
    {
        (int pid, uint uid, uint gid) = DescriptorPassing.ReadPeerCredentials(socket, label);
        return new PeerCredentials(pid, uid, gid);
    }
}
