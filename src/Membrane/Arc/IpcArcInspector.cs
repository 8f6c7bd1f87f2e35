using Membrane.Native;
using Membrane.Segments;

namespace Membrane.Arc;

/// <summary>Reads an arc's lock state without attaching to it, for <c>membrane inspect</c>.</summary>
internal static unsafe class IpcArcInspector
{
    /// <summary>Who holds the lock (null: nobody), whether it is alive (attached), and whether the value is mid-change (odd sequence).</summary>
    internal static (ProcessIdentity? Holder, bool HolderAlive, bool Changing, long Sequence) ReadLockState(string name)
    {
        using var view = SegmentView.Open(name, SegmentBacking.SharedMemory);
        if (view.Size < SegmentHeaderLayout.Size + ArcLayout.ValueOffset)
        {
            throw new SegmentCorruptException("It is too small to be an arc.", name,
                expected: $"at least {SegmentHeaderLayout.Size + ArcLayout.ValueOffset} bytes", found: $"{view.Size} bytes");
        }
        byte* payload = view.Pointer + SegmentHeaderLayout.Size;
        ulong holder = Volatile.Read(ref *(ulong*)(payload + ArcLayout.HolderOffset));
        long sequence = Volatile.Read(ref *(long*)(payload + ArcLayout.SequenceOffset));
        bool alive = view.Processes.IsAlive(holder);
        return (holder == 0 ? null : ProcessIdentity.Unpack(holder, 0), alive, (sequence & 1) != 0, sequence);
    }
}
