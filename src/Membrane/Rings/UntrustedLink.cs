using System.Net.Sockets;
using Membrane.Errors;
using Membrane.Native;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Rings;

/// <summary>
/// How the two ends of an untrusted ring wake each other and learn that the other is gone: a Unix stream socket pair
/// for the ring, one end on each side (a byte received means "look again"), and the socket the ring came over, whose
/// hang-up is the one sign of the peer's death it cannot fake.
/// <para>
/// Nothing here can block on the peer. A wake is <c>send(MSG_DONTWAIT)</c> and a drain <c>recv(MSG_DONTWAIT)</c>: flags
/// of the call, which the peer cannot take away as it can the <c>O_NONBLOCK</c> of a descriptor both sides share (the
/// eventfds this replaced: a peer that cleared it, and refilled the counter between our poll and our write, blocked our
/// <c>Commit</c> for ever). Each side writes only into the other's end, so neither can make the other's calls wait: a
/// full buffer means the peer has wakes pending already, and the byte is dropped.
/// </para>
/// </summary>
internal sealed class UntrustedLink : Parking, IDisposable
{
    private const string SocketTargetPrefix = "socket:";
    private const int DrainRounds = 16; // a peer that floods us is drained this much a wake, then looked at again later

    private readonly SafeFileDescriptor _wake;      // our end: what arrives wakes us, what we send wakes the peer
    private readonly SafeFileDescriptor? _peerEnd;  // the peer's end, held only until it is sent (the side that made the pair)
    private readonly Socket _peer;

    private UntrustedLink(SafeFileDescriptor wake, SafeFileDescriptor? peerEnd, Socket peer)
    {
        _wake = wake;
        _peerEnd = peerEnd;
        _peer = peer;
    }

    /// <summary>What goes to the peer with the ring's memfd: its end of the pair.</summary>
    internal SafeFileDescriptor PeerEnd => _peerEnd ?? throw new InvalidOperationException("An adopted ring has no end to send.");

    internal static unsafe UntrustedLink Create(string label, Socket peer)
    {
        int* ends = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_NONBLOCK | Interop.SOCK_CLOEXEC, 0, ends) != 0)
        {
            NativeError.Throw("socketpair", Interop.LastErrno, label);
        }
        return new UntrustedLink(new SafeFileDescriptor(ends[0], ownsHandle: true), new SafeFileDescriptor(ends[1], ownsHandle: true), peer);
    }

    /// <summary>Takes the end the peer sent, after checking that it is a socket (a pipe or a file could fill or block a read).</summary>
    internal static UntrustedLink Adopt(string label, SafeFileDescriptor wake, Socket peer)
    {
        string target = wake.Describe();
        if (!target.StartsWith(SocketTargetPrefix, StringComparison.Ordinal))
        {
            throw new PeerViolationException("The peer sent a wake-up descriptor that is not a socket.", label, expected: "a socket", found: target);
        }
        return new UntrustedLink(wake, peerEnd: null, peer);
    }

    /// <summary>True when the peer's socket hung up: its process ended, or it closed the channel.</summary>
    internal bool PeerHungUp() => DescriptorPassing.PeerHungUp(_peer);

    internal override unsafe void Park(int* word, int observed, TimeSpan timeout)
    {
        bool added = false;
        _wake.DangerousAddRef(ref added);
        try
        {
            Interop.PollFd* fds = stackalloc Interop.PollFd[2];
            fds[0] = new Interop.PollFd { Fd = _wake.Number, Events = Interop.POLLIN };
            fds[1] = new Interop.PollFd { Fd = (int)_peer.Handle, Events = Interop.POLLRDHUP };
            int milliseconds = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Ceiling(Math.Min(timeout.TotalMilliseconds, int.MaxValue));
            if (Interop.Poll(fds, 2, milliseconds) > 0 && (fds[0].Returned & Interop.POLLIN) != 0)
            {
                Drain();
            }
        }
        finally
        {
            _wake.DangerousRelease();
        }
    }

    internal override unsafe void Wake(int* word)
    {
        byte lookAgain = 1;
        // Never blocks, whatever the peer did to its end; EAGAIN (its buffer is full of wakes already) is as good as sent.
        _ = Interop.Send(_wake, &lookAgain, 1, Interop.MSG_DONTWAIT | Interop.MSG_NOSIGNAL);
    }

    /// <summary>Through the process's one <see cref="PollReactor"/> thread (the mapping is not read there: it needs no hold).</summary>
    internal override ValueTask ParkAsync(nint word, int observed, TimeSpan timeout, MappingUsers mapping, CancellationToken cancellation) =>
        new(PollAsync(timeout, cancellation));

    internal override bool CancelsAsyncParks => true;

    private async Task PollAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        using var slice = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        slice.CancelAfter(timeout);
        try
        {
            await PollReactor.Shared.WhenReady(_wake, Interop.POLLIN, _peer.SafeHandle, Interop.POLLRDHUP, slice.Token).ConfigureAwait(false);
            Drain();
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            // The slice ended: the caller re-checks, looks at its peer and parks again.
        }
    }

    /// <summary>Closes the peer's end once it has been sent: only the peer should hold it from then on.</summary>
    internal void ForgetPeerEnd() => _peerEnd?.Dispose();

    public void Dispose()
    {
        _wake.Dispose();
        _peerEnd?.Dispose();
    }

    /// <summary>Takes the wakes that arrived, without ever blocking (a bounded amount: a flooding peer cannot keep us here).</summary>
    private unsafe void Drain()
    {
        byte* bytes = stackalloc byte[64];
        for (int round = 0; round < DrainRounds && Interop.Recv(_wake, bytes, 64, Interop.MSG_DONTWAIT) == 64; round++)
        {
        }
    }
}
