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

    /// <summary>What the descriptor is, as /proc/self/fd names it ("anon_inode:[eventfd]", "/memfd:label (deleted)").</summary>
    internal unsafe string Describe()
    {
        byte* target = stackalloc byte[512];
        nint length = Interop.ReadLink($"/proc/self/fd/{Number}", target, 512);
        return length < 0 ? "unknown" : System.Text.Encoding.UTF8.GetString(target, (int)length);
    }

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
