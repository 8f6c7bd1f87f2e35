using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "getpid")]
    internal static partial int GetPid();

    /// <summary>The calling thread's kernel thread id, which a robust futex's lock word holds for its owner.</summary>
    [LibraryImport(Libc, EntryPoint = "gettid")]
    internal static partial int GetTid();

    /// <summary>kill(2); with signal 0 it only asks whether the process exists.</summary>
    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
