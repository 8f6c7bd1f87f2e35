using System.Diagnostics;
using System.Net.Sockets;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Rings;

/// <summary>
/// A duplex channel: two shared rings, one each way, for request/response between two processes. Send with
/// <see cref="Outgoing"/>, receive with <see cref="Incoming"/>.
/// <para>
/// Named (trusted) channels: <see cref="Host"/> creates the rings <c>name.requests</c> and <c>name.responses</c>,
/// <see cref="Join"/> opens them. Untrusted channels: a server's <see cref="RingListener"/> creates both rings in
/// sealed memfds per client and passes them over a Unix socket to <see cref="Connect"/>; each side checks everything
/// it reads, and the socket's hang-up tells either side that the other is gone.
/// </para>
/// </summary>
[DebuggerDisplay("RingChannel {Name}")]
public sealed class RingChannel : IDisposable
{
    private readonly SharedRing _outgoingRing;
    private readonly SharedRing _incomingRing;
    private readonly Socket? _socket;
    private int _disposed;

    private RingChannel(string name, SharedRing outgoing, SharedRing incoming, Socket? socket, PeerCredentials? peer = null)
    {
        Name = name;
        _outgoingRing = outgoing;
        _incomingRing = incoming;
        _socket = socket;
        Peer = peer;
        try
        {
            Outgoing = outgoing.CreateProducer();
            Incoming = incoming.CreateConsumer();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The channel's name (named channels) or socket path (untrusted ones).</summary>
    public string Name { get; }

    /// <summary>This side's producer: what it sends.</summary>
    public RingProducer Outgoing { get; } = null!;

    /// <summary>This side's consumer: what it receives.</summary>
    public RingConsumer Incoming { get; } = null!;

    /// <summary>True for a channel with an untrusted peer (sealed memfds over a Unix socket).</summary>
    public bool IsUntrusted => _socket is not null;

    /// <summary>For an untrusted channel, who the other side is (from the kernel, not from the peer); null for a named channel.</summary>
    public PeerCredentials? Peer { get; }

    /// <summary>The name of a named channel's ring of requests (client to host).</summary>
    public static string RequestsName(string name) => name + ".requests";

    /// <summary>The name of a named channel's ring of responses (host to client).</summary>
    public static string ResponsesName(string name) => name + ".responses";

    /// <summary>Creates a named channel and takes the host's side: it receives requests and sends responses.</summary>
    public static RingChannel Host(string name, RingOptions? options = null)
    {
        SharedRing requests = SharedRing.Create(RequestsName(name), options);
        try
        {
            return new RingChannel(name, SharedRing.Create(ResponsesName(name), options), requests, socket: null);
        }
        catch
        {
            requests.Dispose();
            throw;
        }
    }

    /// <summary>Opens a named channel and takes the client's side: it sends requests and receives responses.</summary>
    public static RingChannel Join(string name)
    {
        SharedRing requests = SharedRing.Open(RequestsName(name));
        try
        {
            return new RingChannel(name, requests, SharedRing.Open(ResponsesName(name)), socket: null);
        }
        catch
        {
            requests.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects to a <see cref="RingListener"/> and takes the channel it hands over, after checking it: the
    /// handshake's form, that both memfds are sealed against resizing and exactly as large as announced, and that the
    /// wake-up ends are sockets. Anything else is refused with <see cref="PeerViolationException"/>.
    /// </summary>
    /// <param name="socketPath">The listener's Unix socket.</param>
    /// <param name="timeout">How long the server may take to send the channel.</param>
    /// <param name="maxCapacity">
    /// The largest ring accepted from the server (<see cref="DefaultMaxCapacity"/>, 64 MiB, by default): a server
    /// is not trusted to choose how much of this process's address space and memory its rings take.
    /// </param>
    /// <exception cref="SegmentNotFoundException">Nothing listens at <paramref name="socketPath"/>.</exception>
    public static RingChannel Connect(string socketPath, TimeSpan timeout, long maxCapacity = DefaultMaxCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCapacity, RingLayout.MinCapacity);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
            {
                throw new SegmentNotFoundException("Nothing listens for ring channels at this socket.", socketPath,
                    expected: "a RingListener", found: e.SocketErrorCode == SocketError.ConnectionRefused ? "a socket nobody accepts on" : "no socket", innerException: e);
            }
            return Receive(socket, socketPath, timeout, maxCapacity);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes both ends (the peer hears it) and, for an untrusted channel, the socket.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Outgoing?.Dispose();
        Incoming?.Dispose();
        _outgoingRing.Dispose();
        _incomingRing.Dispose();
        _socket?.Dispose();
    }

    /// <summary>The server's half of the handshake: makes both rings and sends them to the client just accepted.</summary>
    internal static RingChannel Offer(Socket accepted, string label, RingOptions options, PeerCredentials client)
    {
        SharedRing? requests = null;
        SharedRing? responses = null;
        try
        {
            requests = SharedRing.CreateUntrusted(label + " requests", options.Capacity, accepted);
            responses = SharedRing.CreateUntrusted(label + " responses", options.Capacity, accepted);
            Span<byte> message = stackalloc byte[ChannelHandshake.Size];
            new ChannelHandshake(requests.Capacity, responses.Capacity).Write(message);
            PeerMessage.Send(accepted, message, [.. requests.Untrusted.SharedDescriptors, .. responses.Untrusted.SharedDescriptors], label, "its channel");
            requests.Untrusted.Sent();
            responses.Untrusted.Sent();
            return new RingChannel(label, responses, requests, accepted, client);
        }
        catch
        {
            requests?.Dispose();
            responses?.Dispose();
            throw;
        }
    }

    /// <summary>The largest ring <see cref="Connect"/> accepts from a server unless told otherwise: 64 MiB.</summary>
    public const long DefaultMaxCapacity = 64L << 20;

    private static RingChannel Receive(Socket socket, string socketPath, TimeSpan timeout, long maxCapacity)
    {
        Span<byte> message = stackalloc byte[ChannelHandshake.Size + 1]; // one byte more, so a longer message shows
        int length = PeerMessage.Receive(socket, message, ChannelHandshake.DescriptorCount, timeout, socketPath, "a channel", ChannelHandshake.Expected,
            out SafeFileDescriptor[] descriptors);
        if (ChannelHandshake.Parse(message[..length], descriptors.Length, maxCapacity, out string problem) is not { } handshake)
        {
            Array.ForEach(descriptors, fd => fd.Dispose());
            throw new PeerViolationException("The server's handshake is not a ring channel's.", socketPath, expected: ChannelHandshake.Expected, found: problem);
        }
        SharedRing? toServer = null;
        try
        {
            toServer = SharedRing.AdoptUntrusted(socketPath + " (to server)", handshake.ToServerCapacity, descriptors[0], descriptors[1], socket);
            SharedRing toClient = SharedRing.AdoptUntrusted(socketPath + " (from server)", handshake.ToClientCapacity, descriptors[2], descriptors[3], socket);
            return new RingChannel(socketPath, toServer, toClient, socket, PeerCredentials.Of(socket, socketPath));
        }
        catch
        {
            toServer?.Dispose();
            Array.ForEach(descriptors, fd => fd.Dispose());
            throw;
        }
    }
}
