using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "getpid")]
    internal static partial int GetPid();

    /// <summary>kill(2); with signal 0 it only asks whether the process exists.</summary>
    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
