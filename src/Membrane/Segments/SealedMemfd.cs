using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Segments;

/// <summary>
/// A memfd whose size is sealed, mapped: the memory a process shares with a peer it does not trust. Sealing against
/// shrinking is what makes such sharing safe at all — a peer that could truncate the file would turn every access
/// into a SIGBUS. The creator seals; the receiver <see cref="Adopt"/>s only what it has checked: a sealed memfd of
/// the size it expected, before anything is mapped.
/// </summary>
internal sealed unsafe class SealedMemfd : IDisposable
{
    /// <summary>The seals every shared memfd carries: its size is fixed and its seals are final.</summary>
    internal const int SizeSeals = Interop.F_SEAL_SHRINK | Interop.F_SEAL_GROW | Interop.F_SEAL_SEAL;

    private readonly MappedMemory _mapping;

    private SealedMemfd(SafeFileDescriptor descriptor, MappedMemory mapping, long length)
    {
        Descriptor = descriptor;
        _mapping = mapping;
        Length = length;
    }

    internal SafeFileDescriptor Descriptor { get; }

    internal byte* Pointer => _mapping.Pointer;

    /// <summary>The memfd's size in bytes (0 for an empty blob, whose mapping is never touched).</summary>
    internal long Length { get; }

    /// <summary>A zeroed, writable memfd of <paramref name="length"/> bytes, sealed against resizing, mapped read-write.</summary>
    internal static SealedMemfd CreateWritable(string label, long length)
    {
        SafeFileDescriptor fd = CreateSized(label, length);
        return Finish(fd, label, SizeSeals, length, writable: true);
    }

    /// <summary>A memfd holding <paramref name="content"/>, sealed against any change, mapped read-only.</summary>
    internal static SealedMemfd CreateImmutable(string label, ReadOnlySpan<byte> content)
    {
        SafeFileDescriptor fd = CreateSized(label, content.Length);
        try
        {
            long written = 0;
            fixed (byte* source = content)
            {
                while (written < content.Length)
                {
                    nint count = Interop.Write(fd, source + written, (nuint)(content.Length - written));
                    if (count <= 0)
                    {
                        NativeError.Throw("write", count < 0 ? Interop.LastErrno : Interop.EIO, label);
                    }
                    written += count;
                }
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
        // F_SEAL_WRITE is refused while any writable mapping exists; there is none: the bytes went in by write(2).
        return Finish(fd, label, SizeSeals | Interop.F_SEAL_WRITE, content.Length, writable: false);
    }

    /// <summary>
    /// Takes a memfd a peer sent, after checking what it is: a memfd sealed against resizing (and, for a read-only
    /// blob, against writes), <paramref name="length"/> bytes long when given, else at most
    /// <paramref name="maxLength"/>. Refused with <see cref="PeerViolationException"/>, the descriptor closed.
    /// </summary>
    internal static SealedMemfd Adopt(SafeFileDescriptor fd, string label, long? length, long maxLength, bool writable)
    {
        try
        {
            int seals = Interop.Fcntl(fd, Interop.F_GET_SEALS, 0);
            int required = writable ? SizeSeals : SizeSeals | Interop.F_SEAL_WRITE;
            if (seals < 0 || (seals & required) != required)
            {
                throw new PeerViolationException("The peer sent memory that is not sealed; a peer that can resize it can crash this process.", label,
                    expected: $"a memfd sealed {Describe(required)}", found: seals < 0 ? $"{fd.Describe()}, which takes no seals" : $"seals {Describe(seals)}");
            }
            if (writable && (seals & (Interop.F_SEAL_WRITE | Interop.F_SEAL_FUTURE_WRITE)) != 0)
            {
                throw new PeerViolationException("The peer sent memory sealed against writes for a ring that needs writing.", label,
                    expected: "no write seal", found: $"seals {Describe(seals)}");
            }
            if (Interop.FStat(fd, out Interop.StatX stat) != 0)
            {
                NativeError.Throw("fstat", Interop.LastErrno, label);
            }
            long size = (long)stat.Size;
            if ((length is long exact && size != exact) || size > maxLength)
            {
                throw new PeerViolationException("The peer sent memory of the wrong size.", label,
                    expected: length is long e ? $"{e:N0} bytes" : $"1 to {maxLength:N0} bytes", found: $"{size:N0} bytes");
            }
            return Map(fd, label, size, writable);
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

    private static SafeFileDescriptor CreateSized(string label, long length)
    {
        SafeFileDescriptor fd = Interop.MemfdCreate(label, Interop.MFD_CLOEXEC | Interop.MFD_ALLOW_SEALING);
        if (fd.IsInvalid)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            NativeError.Throw("memfd_create", errno, label);
        }
        if (length > 0 && Interop.FTruncate(fd, length) != 0)
        {
            int errno = Interop.LastErrno;
            fd.Dispose();
            NativeError.Throw("ftruncate", errno, label);
        }
        return fd;
    }

    private static SealedMemfd Finish(SafeFileDescriptor fd, string label, int seals, long length, bool writable)
    {
        try
        {
            if (Interop.Fcntl(fd, Interop.F_ADD_SEALS, seals) != 0)
            {
                NativeError.Throw("fcntl(F_ADD_SEALS)", Interop.LastErrno, label);
            }
            return Map(fd, label, length, writable);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static SealedMemfd Map(SafeFileDescriptor fd, string label, long length, bool writable)
    {
        // A zero-length mapping is refused by mmap; an empty blob maps one (sealed, zero-sized) page's worth of nothing.
        return new SealedMemfd(fd, MappedMemory.MapOrThrow(fd, Math.Max(length, 1), writable, label), length);
    }

    private static string Describe(int seals)
    {
        var names = new List<string>();
        if ((seals & Interop.F_SEAL_SEAL) != 0) names.Add("SEAL");
        if ((seals & Interop.F_SEAL_SHRINK) != 0) names.Add("SHRINK");
        if ((seals & Interop.F_SEAL_GROW) != 0) names.Add("GROW");
        if ((seals & Interop.F_SEAL_WRITE) != 0) names.Add("WRITE");
        if ((seals & Interop.F_SEAL_FUTURE_WRITE) != 0) names.Add("FUTURE_WRITE");
        return names.Count == 0 ? "none" : string.Join('|', names);
    }
}
