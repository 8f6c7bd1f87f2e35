namespace Membrane.Native;

/// <summary>
/// Every libc function Membrane calls, declared once with <c>[LibraryImport]</c>. One file per function family,
/// C names kept for C constants so they can be checked against the man pages.
/// </summary>
internal static partial class Interop
{
    /// <summary>glibc; since 2.34 it also exports the pthread functions (no libpthread).</summary>
    internal const string Libc = "libc";
}
