using System.Globalization;
using Membrane.Diagnostics;
using Membrane.Segments;

namespace Membrane.Cli.Commands;

/// <summary>What <c>membrane stat</c> shows of one segment: its latest reading and the rates since the one before (null rates on the first).</summary>
internal sealed record StatRow(string Name, SegmentKind Kind, StatRow.JournalRow? Journal, StatRow.FlowRow? Ring, StatRow.FlowRow? Queue, StatRow.ArcRow? Arc)
{
    internal static StatRow From(SegmentSample now, SegmentSample? before)
    {
        double? seconds = before is not null && now.SecondsSince(before) > 0 ? now.SecondsSince(before) : null;
        double? Rate(long current, long? earlier) => seconds is double s && earlier is long e ? (current - e) / s : null;
        return new StatRow(now.Name, now.Kind,
            now.Journal is { } j ? new JournalRow(j.WritePosition, Rate(j.WritePosition, before?.Journal?.WritePosition), j.Capacity,
                [.. j.Cursors.Where(c => c.Registered).Select(c => new CursorRow(c.Id, c.Name, c.Position,
                    Rate(c.Position, before?.Journal?.Cursors.FirstOrDefault(b => b.Id == c.Id).Position), c.Lag, c.Lapped, c.ReaderPid, c.ReaderPid is null ? null : c.ReaderAlive))]) : null,
            now.Ring is { } r ? new FlowRow(r.Capacity, r.BytesWritten, Rate(r.BytesWritten, before?.Ring?.BytesWritten), r.BytesRead,
                Rate(r.BytesRead, before?.Ring?.BytesRead), r.Depth, null, r.ProducerPid, r.ConsumerPid, r.Waits) : null,
            now.Queue is { } q ? new FlowRow(q.Capacity, q.BytesClaimed, Rate(q.BytesClaimed, before?.Queue?.BytesClaimed), q.BytesRead,
                Rate(q.BytesRead, before?.Queue?.BytesRead), q.Depth, q.AbortedClaims, null, q.ConsumerPid, q.Waits) : null,
            now.Arc is { } a ? new ArcRow(a.HolderPid, a.HolderPid is null ? null : a.HolderAlive, a.Locks, Rate(a.Locks, before?.Arc?.Locks), a.OwnerDied) : null);
    }

    /// <summary>The row's cells (segment, kind, position, rate, lag or depth, details), one array a line: a journal has a line per cursor.</summary>
    internal IEnumerable<string[]> Cells()
    {
        string kind = Kind.ToString().ToLowerInvariant();
        if (Journal is { } j)
        {
            yield return [Name, kind, $"{j.WritePosition:N0}", Per(j.WriteRate), "", $"writer; {j.Capacity:N0} slots"];
            foreach (CursorRow c in j.Cursors)
            {
                string reader = c.ReaderPid is int pid ? $"reader pid {pid}{(c.ReaderAlive == true ? "" : " (dead)")}" : "no reader";
                string lost = c.Lapped > 0 ? $", {c.Lapped:N0} overwritten unread" : "";
                yield return [$"  cursor {c.Id}{(c.Name is null ? "" : $" '{c.Name}'")}", "", $"{c.Position:N0}", Per(c.Rate), $"lag {c.Lag:N0}", reader + lost];
            }
        }
        else if ((Ring ?? Queue) is { } f)
        {
            string aborted = f.AbortedClaims is long n ? $"; {n:N0} aborted claims" : "";
            string ends = $"producer {Pid(f.ProducerPid)}, consumer {Pid(f.ConsumerPid)}";
            string waits = $"; parks {f.Waits.ProducerParks:N0}/{f.Waits.ConsumerParks:N0}, wakes {f.Waits.ProducerWakes:N0}/{f.Waits.ConsumerWakes:N0} (producer/consumer)";
            yield return [Name, kind, $"{f.BytesWritten:N0} B", $"in {Bytes(f.WriteRate)}, out {Bytes(f.ReadRate)}",
                $"depth {f.Depth:N0} B of {f.Capacity:N0}", (Ring is null ? $"consumer {Pid(f.ConsumerPid)}" : ends) + aborted + waits];
        }
        else if (Arc is { } a)
        {
            string holder = a.HolderPid is int pid ? $"held by pid {pid}{(a.HolderAlive == true ? "" : " (dead)")}" : "free";
            yield return [Name, kind, $"{a.Locks:N0} locks", Per(a.LockRate), "", $"{holder}; previous owner died {a.OwnerDied:N0} times"];
        }
    }

    private static string Pid(int? pid) => pid?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static string Per(double? rate) => rate is double r ? r.ToString("N0", CultureInfo.InvariantCulture) : "-";

    private static string Bytes(double? rate) => rate is double r ? LsCommand.Bytes((long)r) + "/s" : "-";

    /// <summary>A journal: the write position and rate, and every registered cursor.</summary>
    internal sealed record JournalRow(long WritePosition, double? WriteRate, long Capacity, IReadOnlyList<CursorRow> Cursors);

    /// <summary>A cursor: position, rate, lag, entries overwritten before it read them, its reader.</summary>
    internal sealed record CursorRow(int Id, string? Name, long Position, double? Rate, long Lag, long Lapped, int? ReaderPid, bool? ReaderAlive);

    /// <summary>A ring or a queue: bytes in and out, rates both ways, depth, parks and wakes of each side.</summary>
    internal sealed record FlowRow(long Capacity, long BytesWritten, double? WriteRate, long BytesRead, double? ReadRate, long Depth, long? AbortedClaims,
        int? ProducerPid, int? ConsumerPid, WaitSample Waits);

    /// <summary>An arc: holder, lock cycles and their rate, dead owners found.</summary>
    internal sealed record ArcRow(int? HolderPid, bool? HolderAlive, long Locks, double? LockRate, long OwnerDied);
}
