using System.Net.Sockets;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Rings;

/// <summary>
/// One message with descriptors to or from a peer over a connected Unix socket (<see cref="DescriptorPassing"/>), its
/// failures turned into our exceptions: a peer that went away is <see cref="PeerGoneException"/>, one that sent
/// nothing in time or more than asked is <see cref="PeerViolationException"/>.
/// </summary>
internal static class PeerMessage
{
    /// <summary>Sends <paramref name="bytes"/> and <paramref name="descriptors"/>; <paramref name="what"/> names it in errors ("its channel").</summary>
    internal static void Send(Socket socket, ReadOnlySpan<byte> bytes, ReadOnlySpan<SafeFileDescriptor> descriptors, string label, string what)
    {
        int errno = DescriptorPassing.Send(socket, bytes, descriptors);
        if (errno != 0)
        {
            throw new PeerGoneException($"The peer went away before it got {what}.", label, expected: "a connected peer",
                found: $"sendmsg refused with {Interop.ErrnoName(errno)}", errno: errno);
        }
    }

    /// <summary>
    /// Receives one message of at most <paramref name="buffer"/>'s length and <paramref name="maxDescriptors"/>
    /// descriptors (which the caller then owns), waiting at most <paramref name="timeout"/>; returns its length.
    /// </summary>
    internal static int Receive(Socket socket, Span<byte> buffer, int maxDescriptors, TimeSpan timeout, string label, string what, string expected,
        out SafeFileDescriptor[] descriptors)
    {
        DescriptorPassing.Outcome outcome = DescriptorPassing.Receive(socket, buffer, maxDescriptors, timeout, out int length, out descriptors);
        return outcome switch
        {
            DescriptorPassing.Outcome.Received => length,
            DescriptorPassing.Outcome.PeerClosed => throw new PeerGoneException($"The peer hung up without sending {what}.", label, expected, found: "end of stream"),
            DescriptorPassing.Outcome.TimedOut => throw new PeerViolationException($"The peer sent no {what} within {timeout.TotalSeconds:0.###} s.", label, expected, found: "nothing"),
            _ => throw new PeerViolationException($"The peer sent more than {what}.", label, expected, found: "a longer message or more descriptors"),
        };
    }
}
