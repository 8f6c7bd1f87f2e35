using Membrane.Errors;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Rings;

/// <summary>
/// A ring opened by name: its ends park on futexes, claim their roles in shared memory (a dead holder is replaced, a live
/// one refused) and judge each other by the segment's process table.
/// </summary>
internal sealed class NamedPeering(SharedSegment segment) : RingPeering
{
    internal override Parking Parking => Parking.Futex;

    internal override void ClaimRole(string ring, ref ulong identity, ref uint bootTag, string role)
    {
        if (ProcessClaim.TryClaim(ref identity, ref bootTag, segment.Processes) is { } holder)
        {
            throw new SegmentInUseException($"The ring has a live {role} already; it takes one at a time.", ring,
                expected: $"no live {role}", found: $"{role} pid {holder.Pid}");
        }
    }

    internal override void ReleaseRole(ref ulong identity) => ProcessClaim.Release(ref identity);

    internal override void ThrowIfPeerDied(string ring, ref ulong identity, ref uint bootTag, string peer, string what)
    {
        if (ProcessClaim.Holder(ref identity, ref bootTag) is { } holder && !segment.Processes.IsAlive(holder.Packed))
        {
            throw new PeerGoneException($"The {peer} process died.", ring, expected: what, found: $"{peer} pid {holder.Pid} dead");
        }
    }

    internal override MembraneException InconsistentHeader(string ring, string problem) =>
        new SegmentCorruptException("Its ring header is inconsistent.", ring, expected: "a consistent ring layout", found: problem);

    public override void Dispose() => segment.Dispose();
}
