using System.Globalization;
using System.Net.Sockets;

namespace Membrane.Benchmarks.Harness;

/// <summary>
/// The baseline transport: a Unix domain stream socket listening at a fresh path in the temp directory, removed on
/// dispose. The peer process connects with <see cref="Connect"/>.
/// </summary>
internal sealed class UnixSocketServer : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    internal UnixSocketServer(string purpose)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"membrane-bench-{purpose}-{Environment.ProcessId}.sock"));
        File.Delete(Path);
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen(1);
    }

    internal string Path { get; }

    internal Socket Accept() => _listener.Accept();

    internal static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Fills <paramref name="buffer"/> from a stream socket; false at a clean end of stream before the first byte.</summary>
    internal static bool ReceiveExactly(Socket socket, Span<byte> buffer)
    {
        for (int received = 0; received < buffer.Length;)
        {
            int n = socket.Receive(buffer[received..], SocketFlags.None);
            if (n == 0)
            {
                return received == 0 ? false : throw new InvalidOperationException("the peer closed mid-message");
            }
            received += n;
        }
        return true;
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(Path);
    }
}
