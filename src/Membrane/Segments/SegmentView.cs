using Membrane.Errors;
using Membrane.Native;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

/// <summary>
/// A named segment mapped read-only without attaching to it: how <c>ls</c>, <c>inspect</c> and <c>stat</c> look at any
/// segment they may read, from outside the processes that use it. Opening checks the file is a regular file of a
/// plausible size; <see cref="Header"/> checks the magic.
/// </summary>
internal sealed unsafe class SegmentView : IDisposable
{
    private readonly MappedMemory _mapping;

    private SegmentView(string name, SafeFileDescriptor descriptor, long size, MappedMemory mapping)
    {
        Name = name;
        Descriptor = descriptor;
        Size = size;
        _mapping = mapping;
    }

    internal string Name { get; }

    internal SafeFileDescriptor Descriptor { get; }

    /// <summary>The file's size: the mapping's length.</summary>
    internal long Size { get; }

    internal byte* Pointer => _mapping.Pointer;

    /// <summary>The common header; a <see cref="ForeignSegmentException"/> if the file does not start with Membrane's magic.</summary>
    internal ref SegmentHeader Header
    {
        get
        {
            ref SegmentHeader header = ref *(SegmentHeader*)_mapping.Pointer;
            return ref header.Magic == L.Magic
                ? ref header
                : ref Refuse(header.Magic);
        }
    }

    /// <summary>The table of attached processes, which says who is alive.</summary>
    internal ProcessTable Processes => new(_mapping.Pointer, Descriptor, Name);

    /// <summary>Opens and maps <paramref name="name"/> (canonical already) read-only.</summary>
    internal static SegmentView Open(string name, SegmentBacking backing)
    {
        SafeFileDescriptor fd = SegmentFiles.Open(name, backing, create: false, writable: false, default);
        try
        {
            long size = SegmentFiles.SegmentSize(fd, name);
            return new SegmentView(name, fd, size, MappedMemory.MapOrThrow(fd, size, writable: false, name));
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _mapping.Dispose();
        Descriptor.Dispose();
    }

    private ref SegmentHeader Refuse(ulong magic) =>
        throw new ForeignSegmentException("It is not a Membrane segment.", Name,
            expected: $"magic 0x{L.Magic:x16} (\"MEMBRANE\")", found: $"magic 0x{magic:x16}");
}
