using System.Globalization;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Segments;

namespace Membrane.Cli.Commands;

/// <summary>The JSON shape of a segment in <c>ls --json</c>, <c>inspect --json</c> and <c>gc --json</c>.</summary>
internal sealed record SegmentJson(
    string Name,
    SegmentKind Kind,
    string Status,
    SegmentState State,
    long FileSize,
    long PayloadSize,
    int LayoutVersion,
    SegmentJson.TypeJson? PayloadType,
    SegmentJson.ProcessJson CreatedBy,
    DateTimeOffset CreatedAt,
    string Mode,
    uint OwnerUid,
    bool RemoveWhenUnused,
    int LiveProcesses,
    int TotalProcesses,
    int LiveReferences,
    IReadOnlyList<SegmentJson.ProcessJson>? Processes,
    SegmentJson.LockJson? Lock = null,
    SegmentJson.JournalJson? Journal = null,
    SegmentJson.QueueJson? Queue = null)
{
    internal static SegmentJson From(SegmentInfo info, bool withProcesses) => new(
        info.Name,
        info.Kind,
        info.Status,
        info.State,
        info.FileSize,
        info.PayloadSize,
        info.LayoutVersion,
        info.PayloadType.Value == 0 ? null : new TypeJson(info.PayloadType.Name, $"0x{info.PayloadType.Value:x16}", info.PayloadType.Size),
        new ProcessJson(info.Creator.Pid, info.Creator.StartTicks, null, info.CreatorAlive),
        info.CreatedAt,
        "0" + Convert.ToString((int)info.Mode, 8).PadLeft(3, '0'),
        info.OwnerUid,
        info.RemoveWhenUnused,
        info.LiveProcesses,
        info.Processes.Count,
        info.LiveReferences,
        withProcesses ? info.Processes.Select(p => new ProcessJson(p.Process.Pid, p.Process.StartTicks, p.References, p.IsAlive)).ToList() : null);

    /// <summary>An arc's lock: who holds it, whether the value is mid-change, lock cycles completed, owners found dead.</summary>
    internal sealed record LockJson(int? HolderPid, bool? HolderAlive, bool Changing, long Locks, long OwnerDied);

    /// <summary>
    /// A journal's shape, writers and cursors. <c>writer</c> is the one writer (with many, the first live one);
    /// <c>writers</c> lists every writer slot held, with the sequence each is claiming or last wrote.
    /// </summary>
    internal sealed record JournalJson(long Capacity, int SlotSize, OverrunPolicy Policy, JournalWriters WritersMode, int MaxWriters, long WritePosition,
        ProcessJson? Writer, IReadOnlyList<WriterJson> Writers, IReadOnlyList<CursorJson> Cursors)
    {
        internal static JournalJson From(Journal journal) => new(
            journal.Capacity, journal.SlotSize, journal.Policy, journal.Writers, journal.MaxWriters, journal.WritePosition,
            journal.Writer is { } writer ? new ProcessJson(writer.Pid, writer.StartTicks, null, journal.WriterAlive) : null,
            [.. journal.ReadWriters().Select(w => new WriterJson(w.Slot, new ProcessJson(w.Holder.Pid, w.Holder.StartTicks, null, w.Alive), w.Claiming))],
            [.. journal.Cursors().Where(c => c.Registered || c.Owner is not null).Select(c => new CursorJson(
                c.Id, c.Name, c.Registered, c.CommittedPosition, c.Lag,
                c.Owner is { } owner ? new ProcessJson(owner.Pid, owner.StartTicks, null, c.OwnerAlive) : null))]);
    }

    /// <summary>A queue's shape, fill, losses to dead producers, and producers.</summary>
    internal sealed record QueueJson(long Capacity, int MaxMessage, int ProducerSlots, long QueuedBytes, long AbortedClaims, IReadOnlyList<ProducerJson> Producers)
    {
        internal static QueueJson From(SharedQueue queue) => new(
            queue.Capacity, queue.MaxMessageSize, queue.ProducerSlots, queue.QueuedBytes, queue.AbortedClaims,
            [.. queue.ReadProducers().Select(p => new ProducerJson(p.Slot, new ProcessJson(p.Holder.Pid, p.Holder.StartTicks, null, p.Alive)))]);
    }

    internal sealed record ProducerJson(int Slot, ProcessJson Process);

    internal sealed record WriterJson(int Slot, ProcessJson Process, long? Claiming);

    internal sealed record CursorJson(int Id, string? Name, bool Registered, long CommittedPosition, long Lag, ProcessJson? Reader);

    internal sealed record TypeJson(string Name, string Fingerprint, int Size);

    internal sealed record ProcessJson(int Pid, uint StartTicks, int? References, bool Alive)
    {
        public override string ToString() =>
            Pid.ToString(CultureInfo.InvariantCulture) + (Alive ? "" : " (dead)");
    }
}
