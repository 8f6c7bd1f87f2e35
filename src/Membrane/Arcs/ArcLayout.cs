using Membrane.Native;

namespace Membrane.Arcs;

/// <summary>
/// The descriptor of an arc segment's payload (offsets relative to the payload, which starts at 0x1000).
/// <code>
///  0x000 +--------------------------------------------------+
///        | pthread_mutex_t (robust, process-shared), 64 B   |  lockers (glibc)
///  0x040 +--------------------------------------------------+
///        | holder identity u64 | sequence u64 |             |  the lock holder
///        | owner-died count u64                             |  the lock holder
///  0x080 +--------------------------------------------------+
///        | T value (sizeof T bytes)                          |  the lock holder
///        +--------------------------------------------------+
/// </code>
/// The reference count is not here: it is the sum of the live references in the common header's process table.
/// </summary>
internal static class ArcLayout
{
    internal const int MutexOffset = 0x000;
    internal const int HolderOffset = 0x040;
    internal const int SequenceOffset = 0x048;

    /// <summary>How many times a locker found the lock's previous owner dead holding it (for <c>membrane stat</c>).</summary>
    internal const int OwnerDiedCountOffset = 0x050;
    internal const int ValueOffset = 0x080;

    static ArcLayout() => System.Diagnostics.Debug.Assert(Interop.PThreadMutexReservedSize <= HolderOffset, "mutex overlaps holder");

    internal static long PayloadSize(int valueSize) => ValueOffset + valueSize;
}
