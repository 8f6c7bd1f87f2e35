namespace Membrane.Tests.Infrastructure;

/// <summary>Writes bytes into a segment file the way a buggy or hostile process would: behind Membrane's back.</summary>
internal static class HeaderPoke
{
    internal static void Write(string name, int offset, ReadOnlySpan<byte> bytes)
    {
        using var file = new FileStream(TestSegments.ShmPath(name), FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }

    internal static void WriteUInt16(string name, int offset, ushort value) => Write(name, offset, BitConverter.GetBytes(value));

    internal static void WriteInt64(string name, int offset, long value) => Write(name, offset, BitConverter.GetBytes(value));
}
