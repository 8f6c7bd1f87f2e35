using System.Diagnostics.CodeAnalysis;
using Membrane.Native;

namespace Membrane.Errors;

/// <summary>Turns a refused system call into the most specific exception of ours, at the boundary.</summary>
internal static class NativeError
{
    [DoesNotReturn]
    internal static void Throw(string operation, int errno, string? segmentName) =>
        throw Create(operation, errno, segmentName);

    internal static MembraneException Create(string operation, int errno, string? segmentName)
    {
        string summary = $"{operation} failed.";
        return errno switch
        {
            Interop.ENOENT => new SegmentNotFoundException("No such segment.", segmentName, errno: errno),
            Interop.EEXIST => new SegmentAlreadyExistsException("A segment of this name exists already.", segmentName, errno: errno),
            Interop.EACCES or Interop.EPERM => new SegmentAccessDeniedException(summary, segmentName, errno: errno),
            Interop.ENOSPC or Interop.EFBIG => new InsufficientSharedMemoryException(
                $"{summary} There is no room for it: free space in {Segments.SegmentName.Directory} (or the backing filesystem), or raise its size.",
                segmentName, errno: errno),
            Interop.ENAMETOOLONG => new InvalidSegmentNameException(summary, segmentName, errno: errno),
            _ => new NativeCallException(summary, segmentName, errno: errno),
        };
    }
}
