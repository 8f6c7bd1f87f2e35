using Membrane.Errors;
using Membrane.Native;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Rings;

/// <summary>
/// A ring shared with a peer that is not trusted, in a sealed memfd passed over a Unix socket: its ends wake each other
/// through a socket pair (<see cref="UntrustedLink"/>), claim nothing in shared memory (there is one process at each end
/// of the socket, and identity fields the peer can write prove nothing), and learn of the peer's death from the socket's
/// hang-up, which it cannot fake. A header that does not add up is the peer's violation, not damage.
/// </summary>
internal sealed class UntrustedPeering(SealedMemfd memory, UntrustedLink link) : RingPeering
{
    internal override Parking Parking => link;

    /// <summary>What the peer needs: the memfd, and its end of the wake-up socket pair (see <see cref="Sent"/>).</summary>
    internal SafeFileDescriptor[] SharedDescriptors => [memory.Descriptor, link.PeerEnd];

    /// <summary>After <see cref="SharedDescriptors"/> went to the peer: only the peer keeps its end of the wake-up pair.</summary>
    internal void Sent() => link.ForgetPeerEnd();

    internal override void ClaimRole(string ring, ref ulong identity, ref uint bootTag, string role)
    {
    }

    internal override void ReleaseRole(ref ulong identity)
    {
    }

    internal override void ThrowIfPeerDied(string ring, ref ulong identity, ref uint bootTag, string peer, string what)
    {
        if (link.PeerHungUp())
        {
            throw new PeerGoneException($"The {peer} hung up (its process ended or closed the channel).", ring, expected: what, found: "the socket hung up");
        }
    }

    internal override MembraneException InconsistentHeader(string ring, string problem) => SharedRing.Violation(ring, "a ring header matching its memory", problem);

    public override void Dispose()
    {
        memory.Dispose();
        link.Dispose();
    }
}
