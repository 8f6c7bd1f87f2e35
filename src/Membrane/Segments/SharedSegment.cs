using System.Diagnostics;
using System.Text;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Native;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

/// <summary>
/// A shared-memory segment: the common header (magic, version, kind, type fingerprint, sizes, initialisation state,
/// creator, attached processes) followed by a payload. Every Membrane structure lives in one. Creating attaches the
/// creator; opening validates every header field, then attaches; <see cref="Dispose"/> detaches and, for a segment
/// created with <see cref="SegmentOptions.RemoveWhenUnused"/>, removes it when this was the last live process.
/// </summary>
[DebuggerDisplay("{Name} ({Kind}, {PayloadLength} bytes)")]
public sealed unsafe partial class SharedSegment : IDisposable
{
    private readonly SafeFileDescriptor _descriptor;
    private readonly MappedMemory _mapping;
    private int _slot;
    private int _disposed;
    private bool _removeWhenUnused; // as validated at open or chosen at creation: a peer cannot change it afterwards

    private SharedSegment(string name, SegmentBacking backing, SafeFileDescriptor descriptor, MappedMemory mapping)
    {
        Name = name;
        Backing = backing;
        _descriptor = descriptor;
        _mapping = mapping;
        _slot = -1;
    }

    /// <summary>The segment's name (a path for file-backed segments, a label for anonymous ones).</summary>
    public string Name { get; }

    /// <summary>Where its bytes live.</summary>
    public SegmentBacking Backing { get; }

    /// <summary>What the segment holds (as validated at open; never read from shared memory again).</summary>
    public SegmentKind Kind { get; private set; }

    /// <summary>
    /// The payload's length in bytes (at least what was asked at creation; whole pages): what this process mapped, less
    /// the header, which opening checked the header agrees with. Never read from shared memory again.
    /// </summary>
    public long PayloadLength => _mapping.Length - L.Size;

    /// <summary>The process that created the segment.</summary>
    public ProcessIdentity Creator => ProcessIdentity.Unpack(Header.CreatorIdentity, Header.CreatorBootTag);

    /// <summary>
    /// The payload as bytes, zero-copy. Valid until <see cref="Dispose"/>; other processes write it concurrently, so
    /// the application brings its own synchronisation (or uses IpcArc, Journal or SharedRing, which do).
    /// </summary>
    public Span<byte> Payload
    {
        get
        {
            ThrowIfDisposed();
            return PayloadLength <= int.MaxValue
                ? new Span<byte>(PayloadPointer, (int)PayloadLength)
                : throw new InvalidOperationException($"The payload of '{Name}' is {PayloadLength} bytes, more than one Span can hold.");
        }
    }

    /// <summary>Live processes attached now, and the references they hold between them.</summary>
    public int CountAttached(out int references) => Processes.CountLive(out references);

    /// <summary>Every process recorded as attached (live or dead), at this moment.</summary>
    public IReadOnlyList<AttachedProcess> AttachedProcesses() => Processes.Snapshot();

    /// <summary>For a file-backed segment: writes dirty pages to the file now (msync), rather than when the kernel chooses.</summary>
    public void Flush()
    {
        ThrowIfDisposed();
        if (Interop.MSync((nint)_mapping.Pointer, (nuint)_mapping.Length, Interop.MS_SYNC) != 0)
        {
            NativeError.Throw("msync", Interop.LastErrno, Name);
        }
    }

    /// <summary>
    /// Detaches this handle; the last live process to detach a <see cref="SegmentOptions.RemoveWhenUnused"/> segment
    /// removes it. Idempotent, thread-safe, never throws.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            if (_slot >= 0 && Processes.Release(_slot) == 0 && _removeWhenUnused)
            {
                if (CrashPoints.Armed)
                {
                    CrashPoints.Reach(CrashPoints.SegmentDetachAfterRelease);
                }
                TryRemoveUnused();
            }
        }
        catch (MembraneException)
        {
            // The table could not be updated (a lock refused, a damaged segment): this process's slot is reclaimed once
            // the process exits, as a dead process's is, and the segment is left to membrane gc. Dispose never throws.
        }
        finally
        {
            _mapping.Dispose();
            _descriptor.Dispose();
        }
    }

    internal byte* HeaderPointer => _mapping.Pointer;

    internal byte* PayloadPointer => _mapping.Pointer + L.Size;

    internal ref SegmentHeader Header => ref *(SegmentHeader*)_mapping.Pointer;

    internal ProcessTable Processes => new(_mapping.Pointer, _descriptor, Name);

    internal SafeFileDescriptor Descriptor => _descriptor;

    /// <summary>
    /// The last live process detaching a remove-when-unused segment removes it. Best effort, so that Dispose never throws:
    /// a removal refused (by permissions, say) leaves the segment to <c>membrane gc</c>.
    /// </summary>
    private void TryRemoveUnused()
    {
        try
        {
            if (Processes.TryClaimRemoval(ProcessIdentity.Current))
            {
                RemoveClaimed(Processes, Name, Backing, _descriptor);
            }
        }
        catch (MembraneException)
        {
        }
    }

    /// <summary>
    /// Unlinks a segment whose removal claim the caller holds, if the name still leads to the file it has open, and
    /// marks it removed for anyone who opened it before the unlink.
    /// </summary>
    internal static bool RemoveClaimed(ProcessTable processes, string name, SegmentBacking backing, SafeFileDescriptor descriptor)
    {
        if (CrashPoints.Armed)
        {
            CrashPoints.Reach(CrashPoints.SegmentRemoveAfterClaim);
        }
        if (!SegmentFiles.UnlinkIfSame(name, backing, descriptor))
        {
            return false;
        }
        processes.MarkRemoved();
        return true;
    }

    /// <summary>Records what this handle keeps of the header once it is validated (or, for the creator, written).</summary>
    private void Adopt(in SegmentHeader header)
    {
        Kind = (SegmentKind)header.Kind;
        _removeWhenUnused = ((SegmentFlags)header.Flags).HasFlag(SegmentFlags.RemoveWhenUnused);
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    internal static string ReadTypeName(in SegmentHeader header)
    {
        ReadOnlySpan<byte> bytes = header.TypeName;
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }
}
