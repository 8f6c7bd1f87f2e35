using System.Runtime.InteropServices;
using System.Text;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Journals;

/// <summary>One cursor of the table, one cache line: written only by the reader attached to it.</summary>
[StructLayout(LayoutKind.Explicit, Size = L.CursorSize)]
internal struct JournalCursor
{
    internal const uint Free = 0;
    internal const uint Registered = 1;

    [FieldOffset(L.CursorCommittedOffset)] public long Committed;        // reader, exchange (pairs with the Block writer's scan)
    [FieldOffset(L.CursorOwnerOffset)] public ulong Owner;               // reader, CAS to attach; 0 = nobody attached
    [FieldOffset(L.CursorStateOffset)] public uint State;                // reader on first attach, RemoveCursor
    [FieldOffset(L.CursorOwnerBootTagOffset)] public uint OwnerBootTag;  // reader, after the Owner CAS
    [FieldOffset(L.CursorWaitingOffset)] public uint Waiting;            // reader: 1 before it counts itself parked, 0 after it counts itself out
    [FieldOffset(L.CursorNameOffset)] public NameBytes Name;             // reader that attached by name

    [System.Runtime.CompilerServices.InlineArray(L.CursorNameSize)]
    internal struct NameBytes
    {
        private byte _first;
    }

    internal string? ReadName()
    {
        ReadOnlySpan<byte> bytes = Name;
        int end = bytes.IndexOf((byte)0);
        ReadOnlySpan<byte> used = end < 0 ? bytes : bytes[..end];
        return used.IsEmpty ? null : Encoding.UTF8.GetString(used);
    }

    internal void WriteName(string name)
    {
        Span<byte> bytes = Name;
        bytes.Clear();
        Encoding.UTF8.GetBytes(name, bytes);
    }

    internal void ClearName() => ((Span<byte>)Name).Clear();
}
