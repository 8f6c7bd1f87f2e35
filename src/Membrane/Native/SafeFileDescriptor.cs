using System.Runtime.InteropServices;

namespace Membrane.Native;

/// <summary>An owned Linux file descriptor (shm object, memfd, regular file, eventfd); closed exactly once.</summary>
internal sealed class SafeFileDescriptor : SafeHandle
{
    public SafeFileDescriptor()
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
    }

    internal SafeFileDescriptor(int fd, bool ownsHandle)
        : base(invalidHandleValue: -1, ownsHandle)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => (int)handle < 0;

    /// <summary>The raw number, for calls that take one inside a DangerousAddRef/Release pair (SCM_RIGHTS).</summary>
    internal int Number => (int)handle;

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
