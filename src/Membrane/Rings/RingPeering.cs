using Membrane.Errors;
using Membrane.Sync;

namespace Membrane.Rings;

/// <summary>
/// What differs between the two kinds of ring, so that <see cref="SharedRing"/> and its ends hold one protocol and never
/// ask which kind they are: how the memory is held, how the ends sleep and wake each other, how an end claims its role,
/// how it learns that the other's process is gone, and what a header that does not add up means. A named ring
/// (<see cref="NamedPeering"/>) is a segment whose roles are claimed in shared memory and judged by its process table;
/// an untrusted one (<see cref="UntrustedPeering"/>) is a sealed memfd whose peer is known only by its socket.
/// </summary>
internal abstract class RingPeering : IDisposable
{
    /// <summary>How the ends sleep and wake each other: a futex, or the wake-up socket pair.</summary>
    internal abstract Parking Parking { get; }

    /// <summary>Claims a role for this process; throws <see cref="SegmentInUseException"/> if a live process holds it.</summary>
    internal abstract void ClaimRole(string ring, ref ulong identity, ref uint bootTag, string role);

    /// <summary>Frees the role this process held.</summary>
    internal abstract void ReleaseRole(ref ulong identity);

    /// <summary>Throws <see cref="PeerGoneException"/> if the process at the other end died.</summary>
    internal abstract void ThrowIfPeerDied(string ring, ref ulong identity, ref uint bootTag, string peer, string what);

    /// <summary>The error for a ring header that does not add up (<paramref name="problem"/> says how).</summary>
    internal abstract MembraneException InconsistentHeader(string ring, string problem);

    /// <summary>Unmaps the memory and closes what carries the wake-ups.</summary>
    public abstract void Dispose();
}
