using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    /// <summary>Opens a POSIX shared-memory object; <paramref name="name"/> starts with '/'.</summary>
    [LibraryImport(Libc, EntryPoint = "shm_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeFileDescriptor ShmOpen(string name, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "shm_unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int ShmUnlink(string name);
}
