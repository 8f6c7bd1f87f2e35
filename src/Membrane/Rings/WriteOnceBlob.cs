using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Membrane.Errors;
using Membrane.Native;
using Membrane.Segments;

namespace Membrane.Rings;

/// <summary>
/// An immutable blob in a memfd sealed against every change (write, shrink, grow, further seals): the zero-copy way
/// to hand a large buffer to any number of readers. The publisher writes it once, then sends the descriptor over a
/// connected Unix socket (<see cref="SendTo"/>); each reader <see cref="Receive"/>s it, which checks the seals and
/// the announced size before mapping it read-only. Because the kernel enforces the seals, a reader can trust the
/// bytes not to change under it, even from a peer it does not trust.
/// </summary>
[DebuggerDisplay("WriteOnceBlob {Label} ({Length} bytes)")]
public sealed unsafe class WriteOnceBlob : IDisposable
{
    private const int MessageSize = 16;
    private static readonly ulong s_magic = BinaryPrimitives.ReadUInt64LittleEndian("MBRNBLOB"u8);

    private readonly SealedMemfd _memory;
    private int _disposed;

    private WriteOnceBlob(string label, SealedMemfd memory)
    {
        Label = label;
        _memory = memory;
    }

    /// <summary>What the blob is called in errors and in /proc (memfd label).</summary>
    public string Label { get; }

    /// <summary>The blob's length in bytes.</summary>
    public int Length => (int)_memory.Length;

    /// <summary>The bytes, mapped read-only: zero-copy, and unchangeable by anyone.</summary>
    public ReadOnlySpan<byte> Content
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return new ReadOnlySpan<byte>(_memory.Pointer, Length);
        }
    }

    internal SafeFileDescriptor Descriptor => _memory.Descriptor;

    /// <summary>Publishes <paramref name="content"/> as a sealed blob.</summary>
    public static WriteOnceBlob Create(ReadOnlySpan<byte> content, string label = "membrane-blob") =>
        new(label, SealedMemfd.CreateImmutable(label, content));

    /// <summary>Sends the blob's descriptor and length over a connected Unix socket; the blob stays usable here.</summary>
    /// <exception cref="PeerGoneException">The socket refused the message (the peer went away).</exception>
    public void SendTo(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Span<byte> message = stackalloc byte[MessageSize];
        BinaryPrimitives.WriteUInt64LittleEndian(message, s_magic);
        BinaryPrimitives.WriteInt64LittleEndian(message[8..], _memory.Length);
        PeerMessage.Send(socket, message, [_memory.Descriptor], Label, "the blob");
    }

    /// <summary>
    /// Receives a blob from a connected Unix socket, waiting at most <paramref name="timeout"/>. It is refused
    /// (<see cref="PeerViolationException"/>, nothing mapped, the descriptor closed) unless it is a memfd sealed
    /// against writes and resizing, exactly as long as announced and at most <paramref name="maxLength"/> bytes.
    /// </summary>
    public static WriteOnceBlob Receive(Socket socket, TimeSpan timeout, int maxLength = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(socket);
        const string expected = "16 bytes (magic MBRNBLOB, length) and one descriptor";
        string label = "blob from " + (socket.RemoteEndPoint?.ToString() is { Length: > 0 } peer ? peer : "a Unix socket");
        Span<byte> message = stackalloc byte[MessageSize + 1];
        int length = PeerMessage.Receive(socket, message, 1, timeout, label, "a blob", expected, out SafeFileDescriptor[] descriptors);
        if (length != MessageSize || descriptors.Length != 1 || BinaryPrimitives.ReadUInt64LittleEndian(message) != s_magic)
        {
            Array.ForEach(descriptors, fd => fd.Dispose());
            throw new PeerViolationException("The peer did not send a blob.", label, expected, found: $"{length} bytes and {descriptors.Length} descriptors");
        }
        long announced = BinaryPrimitives.ReadInt64LittleEndian(message[8..]);
        if (announced < 0 || announced > maxLength)
        {
            descriptors[0].Dispose();
            throw new PeerViolationException("The peer announced a blob of a size not accepted.", label, expected: $"0 to {maxLength:N0} bytes", found: $"{announced:N0} bytes");
        }
        return new WriteOnceBlob(label, SealedMemfd.Adopt(descriptors[0], label, announced, maxLength, writable: false));
    }

    /// <summary>Unmaps the blob and closes its descriptor; readers that received it keep their own.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _memory.Dispose();
        }
    }
}
