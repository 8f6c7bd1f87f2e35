using System.Net.Sockets;
using Membrane.Native;
using Membrane.Sync;
using L = Membrane.RingLayout;

namespace Membrane;

/// <summary>
/// How the two ends of an untrusted ring wake each other and learn that the other is gone: an eventfd per waiting
/// side (the consumer parks on one, the producer on the other) and the Unix socket the ring came over, whose
/// hang-up is the one sign of the peer's death it cannot fake. Nothing here blocks on the peer: reads use
/// <c>RWF_NOWAIT</c> (a flag of the call, which the peer cannot clear as it could the descriptor's O_NONBLOCK) and a
/// wake is written only when poll says the eventfd has room.
/// </summary>
internal sealed class UntrustedLink : Parking, IDisposable
{
    private const string EventFdTarget = "anon_inode:[eventfd]";

    private readonly nint _tailWord;
    private readonly SafeFileDescriptor _consumerWake;  // signalled when the tail moves; the consumer parks on it
    private readonly SafeFileDescriptor _producerWake;  // signalled when the head moves; the producer parks on it
    private readonly Socket _peer;

    private unsafe UntrustedLink(byte* payload, SafeFileDescriptor consumerWake, SafeFileDescriptor producerWake, Socket peer)
    {
        _tailWord = (nint)(payload + L.TailOffset);
        _consumerWake = consumerWake;
        _producerWake = producerWake;
        _peer = peer;
    }

    internal SafeFileDescriptor[] Descriptors => [_consumerWake, _producerWake];

    internal static unsafe UntrustedLink Create(string label, byte* payload, Socket peer)
    {
        SafeFileDescriptor consumerWake = NewEventFd(label);
        try
        {
            return new UntrustedLink(payload, consumerWake, NewEventFd(label), peer);
        }
        catch
        {
            consumerWake.Dispose();
            throw;
        }
    }

    /// <summary>Takes the peer's eventfds after checking that they are eventfds (a pipe or a file could block or fill).</summary>
    internal static unsafe UntrustedLink Adopt(string label, byte* payload, SafeFileDescriptor consumerWake, SafeFileDescriptor producerWake, Socket peer)
    {
        foreach (SafeFileDescriptor fd in (ReadOnlySpan<SafeFileDescriptor>)[consumerWake, producerWake])
        {
            if (fd.Describe() is var target && target != EventFdTarget)
            {
                throw new PeerViolationException("The peer sent a wake-up descriptor that is not an eventfd.", label, expected: EventFdTarget, found: target);
            }
        }
        return new UntrustedLink(payload, consumerWake, producerWake, peer);
    }

    /// <summary>True when the peer's socket hung up: its process ended, or it closed the channel.</summary>
    internal bool PeerHungUp() => DescriptorPassing.PeerHungUp(_peer);

    internal override unsafe void Park(int* word, int observed, TimeSpan timeout)
    {
        SafeFileDescriptor wake = EventFdFor((nint)word);
        bool added = false;
        wake.DangerousAddRef(ref added);
        try
        {
            Interop.PollFd* fds = stackalloc Interop.PollFd[2];
            fds[0] = new Interop.PollFd { Fd = wake.Number, Events = Interop.POLLIN };
            fds[1] = new Interop.PollFd { Fd = (int)_peer.Handle, Events = Interop.POLLRDHUP };
            int milliseconds = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Ceiling(Math.Min(timeout.TotalMilliseconds, int.MaxValue));
            if (Interop.Poll(fds, 2, milliseconds) > 0 && (fds[0].Returned & Interop.POLLIN) != 0)
            {
                Drain(wake);
            }
        }
        finally
        {
            wake.DangerousRelease();
        }
    }

    internal override unsafe void Wake(int* word)
    {
        SafeFileDescriptor wake = EventFdFor((nint)word);
        bool added = false;
        wake.DangerousAddRef(ref added);
        try
        {
            // A full counter means the waiter has a wake pending already, and writing would block: skip it.
            var poll = new Interop.PollFd { Fd = wake.Number, Events = Interop.POLLOUT };
            if (Interop.Poll(&poll, 1, 0) > 0 && (poll.Returned & Interop.POLLOUT) != 0)
            {
                ulong one = 1;
                _ = Interop.Write(wake, &one, sizeof(ulong));
            }
        }
        finally
        {
            wake.DangerousRelease();
        }
    }

    internal override async Task ParkAsync(nint word, int observed, TimeSpan timeout, CancellationToken cancellation)
    {
        SafeFileDescriptor wake = EventFdFor(word);
        using var slice = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        slice.CancelAfter(timeout);
        try
        {
            await PollReactor.Shared.WhenReady(wake, Interop.POLLIN, _peer.SafeHandle, Interop.POLLRDHUP, slice.Token).ConfigureAwait(false);
            Drain(wake);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            // The slice ended: the caller re-checks, looks at its peer and parks again.
        }
    }

    public void Dispose()
    {
        _consumerWake.Dispose();
        _producerWake.Dispose();
    }

    private static SafeFileDescriptor NewEventFd(string label)
    {
        SafeFileDescriptor fd = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (fd.IsInvalid)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            NativeError.Throw("eventfd", errno, label);
        }
        return fd;
    }

    /// <summary>Resets the eventfd's counter without ever blocking, whatever the peer did to it.</summary>
    private static unsafe void Drain(SafeFileDescriptor wake)
    {
        ulong value;
        var vector = new Interop.IoVec { Base = &value, Length = sizeof(ulong) };
        _ = Interop.PReadV2(wake, &vector, 1, -1, Interop.RWF_NOWAIT);
    }

    /// <summary>
    /// The eventfd of the waiter on <paramref name="word"/>, which it parks on and its publisher signals: the consumer
    /// waits on the tail, the producer on the head.
    /// </summary>
    private SafeFileDescriptor EventFdFor(nint word) => word == _tailWord ? _consumerWake : _producerWake;
}
