using System.Diagnostics;
using System.Net.Sockets;
using Membrane.Errors;
using Membrane.Segments;

namespace Membrane.Rings;

/// <summary>
/// The server side of untrusted ring channels: listens on a Unix socket and, for each client it accepts, creates a
/// <see cref="RingChannel"/> in sealed memfds and hands it over (see <see cref="RingChannel.Connect"/>). The socket
/// file appears at its path already with the mode of <see cref="RingOptions.Mode"/> (0600 by default: only this user
/// may connect) and already listening, and is removed on <see cref="Dispose"/>.
/// </summary>
[DebuggerDisplay("RingListener {SocketPath}")]
public sealed class RingListener : IDisposable
{
    private readonly Socket _socket;
    private readonly RingOptions _options;
    private readonly Func<PeerCredentials, bool>? _admit;
    private int _accepted;
    private int _disposed;

    private RingListener(string socketPath, Socket socket, RingOptions options, Func<PeerCredentials, bool>? admit)
    {
        SocketPath = socketPath;
        _socket = socket;
        _options = options;
        _admit = admit;
    }

    /// <summary>The Unix socket clients connect to.</summary>
    public string SocketPath { get; }

    /// <summary>Clients turned away by the admission check, since the listener started.</summary>
    public int Refused { get; private set; }

    /// <summary>
    /// Listens at <paramref name="socketPath"/>. A socket file left there by a dead listener is replaced; a live
    /// listener's is not (<see cref="SegmentInUseException"/>).
    /// </summary>
    /// <param name="socketPath">Where the socket file goes.</param>
    /// <param name="options">The rings' capacity and the socket file's mode.</param>
    /// <param name="admit">
    /// Null (everyone who can open the socket file), or who may have a channel, judged by the credentials the kernel
    /// recorded for the connection (for example <c>peer =&gt; peer.Uid == 1000</c>): a client refused is disconnected
    /// before anything is created for it, and <see cref="Accept"/> goes on waiting for the next.
    /// </param>
    public static RingListener Listen(string socketPath, RingOptions? options = null, Func<PeerCredentials, bool>? admit = null)
    {
        options ??= new RingOptions();
        options.Validate(socketPath);
        string fullPath = Path.GetFullPath(socketPath);
        // Built where nobody else can look (a fresh 0700 directory beside it), given its mode, listening, and only then
        // renamed to its path: the path never shows a socket with the umask's mode, nor one that refuses connections.
        string building = Path.Combine(Path.GetDirectoryName(fullPath) ?? "/", $".membrane-listen-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(building, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            string bound = Path.Combine(building, "s");
            socket.Bind(new UnixDomainSocketEndPoint(bound));
            File.SetUnixFileMode(bound, options.Mode);
            socket.Listen(16);
            PublishSocket(bound, fullPath);
            return new RingListener(socketPath, socket, options, admit);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            Directory.Delete(building, recursive: true);
        }
    }

    /// <summary>Waits for the next client and hands it a new channel (two rings of <see cref="RingOptions.Capacity"/> bytes).</summary>
    public RingChannel Accept(CancellationToken cancellation = default) => AcceptAsync(cancellation).AsTask().GetAwaiter().GetResult();

    /// <summary>Waits, without holding a thread, for the next client it admits and hands it a new channel.</summary>
    public async ValueTask<RingChannel> AcceptAsync(CancellationToken cancellation = default)
    {
        while (true)
        {
            Socket client = await _socket.AcceptAsync(cancellation).ConfigureAwait(false);
            try
            {
                string label = $"{SocketPath}#{Interlocked.Increment(ref _accepted)}";
                PeerCredentials credentials = PeerCredentials.Of(client, label);
                if (_admit is null || _admit(credentials))
                {
                    return RingChannel.Offer(client, label, _options, credentials);
                }
                Refused++;
                client.Dispose();
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }
    }

    /// <summary>Stops listening and removes the socket file; channels already handed out go on. Idempotent, never throws.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _socket.Dispose();
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Its directory went, or was made unwritable: nothing left to remove that we may remove.
        }
    }

    /// <summary>Renames the listening socket to its path, never over a live listener's (a dead one's leftover is replaced).</summary>
    private static void PublishSocket(string bound, string socketPath)
    {
        try
        {
            SegmentFiles.RenameNoReplace(bound, socketPath);
        }
        catch (SegmentAlreadyExistsException inUse)
        {
            RemoveIfStale(socketPath, inUse);
            SegmentFiles.RenameNoReplace(bound, socketPath);
        }
    }

    private static void RemoveIfStale(string socketPath, MembraneException inUse)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(socketPath); // nobody accepts on it: a dead listener's leftover
            return;
        }
        throw new SegmentInUseException("A live listener owns this socket.", socketPath, expected: "no listener", found: "one accepting connections", innerException: inUse);
    }
}
