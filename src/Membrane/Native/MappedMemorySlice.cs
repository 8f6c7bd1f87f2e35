using System.Buffers;

namespace Membrane.Native;

/// <summary>
/// A <see cref="Memory{T}"/> over a stretch of mapped memory (which never moves), re-pointed for each stretch it lends:
/// what the pipe adapters hand out so that a caller reads or writes the ring in place. A memory taken from it is valid
/// only until it is re-pointed, which the adapters' contracts (until the next read or advance) already say.
/// </summary>
internal sealed unsafe class MappedMemorySlice : MemoryManager<byte>
{
    private byte* _start;
    private int _length;

    /// <summary>Points at <paramref name="length"/> bytes from <paramref name="start"/> and returns them as memory.</summary>
    internal Memory<byte> Point(byte* start, int length)
    {
        _start = start;
        _length = length;
        return CreateMemory(length);
    }

    public override Span<byte> GetSpan() => new(_start, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)_length, nameof(elementIndex));
        return new MemoryHandle(_start + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
