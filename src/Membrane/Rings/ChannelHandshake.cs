using System.Buffers.Binary;
using System.Numerics;

namespace Membrane.Rings;

/// <summary>
/// The one message a <see cref="RingListener"/> sends a client: 32 bytes, little-endian, with four descriptors
/// (SCM_RIGHTS) — for the client-to-server ring then the server-to-client ring: its memfd, and the client's end of the
/// ring's wake-up socket pair (see <see cref="UntrustedLink"/>).
/// <code>
///  0 | magic u64 "MBRNCHAN" | 8 | version u32 (2) | 12 | flags u32 (0) | 16 | client-to-server capacity i64 | 24 | server-to-client capacity i64
/// </code>
/// </summary>
internal readonly record struct ChannelHandshake(long ToServerCapacity, long ToClientCapacity)
{
    internal const int Size = 32;
    internal const int DescriptorCount = 4;
    internal const uint CurrentVersion = 2;
    internal static readonly ulong Magic = BinaryPrimitives.ReadUInt64LittleEndian("MBRNCHAN"u8);

    internal void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], ToServerCapacity);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[24..], ToClientCapacity);
    }

    /// <summary>Parses what a server sent; null with <paramref name="problem"/> saying what was wrong (rings over <paramref name="maxCapacity"/> included).</summary>
    internal static ChannelHandshake? Parse(ReadOnlySpan<byte> bytes, int descriptors, long maxCapacity, out string problem)
    {
        problem = bytes.Length != Size ? $"{bytes.Length} bytes"
            : descriptors != DescriptorCount ? $"{descriptors} descriptors"
            : BinaryPrimitives.ReadUInt64LittleEndian(bytes) != Magic ? "another magic number"
            : BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]) is var version && version != CurrentVersion ? $"version {version}"
            : "";
        if (problem.Length > 0)
        {
            return null;
        }
        var handshake = new ChannelHandshake(BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]));
        problem = !IsCapacity(handshake.ToServerCapacity) || !IsCapacity(handshake.ToClientCapacity)
                ? $"capacities {handshake.ToServerCapacity} and {handshake.ToClientCapacity}"
            : Math.Max(handshake.ToServerCapacity, handshake.ToClientCapacity) > maxCapacity
                ? $"rings of {handshake.ToServerCapacity:N0} and {handshake.ToClientCapacity:N0} bytes, more than the {maxCapacity:N0} accepted"
            : "";
        return problem.Length == 0 ? handshake : null;
    }

    internal static string Expected =>
        $"{Size} bytes (magic MBRNCHAN, version {CurrentVersion}, power-of-two capacities) and {DescriptorCount} descriptors";

    private static bool IsCapacity(long capacity) =>
        capacity >= RingLayout.MinCapacity && capacity <= RingLayout.MaxCapacity && BitOperations.IsPow2(capacity);
}
