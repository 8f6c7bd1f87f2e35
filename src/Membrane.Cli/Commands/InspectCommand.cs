using System.CommandLine;
using Membrane.Diagnostics;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Segments;
using Spectre.Console;

namespace Membrane.Cli.Commands;

/// <summary><c>membrane inspect NAME</c>: the whole header and the table of attached processes.</summary>
internal static class InspectCommand
{
    internal static Command Create()
    {
        var name = new Argument<string>("name") { Description = "The segment's name (as in /dev/shm, or $MEMBRANE_DIR), or a path with --file." };
        var file = new Option<bool>("--file") { Description = "NAME is the path of a file-backed segment." };
        var json = new Option<bool>("--json") { Description = "Print a JSON object instead of a table." };
        var command = new Command("inspect", "Show a segment's header, payload type and attached processes.") { name, file, json };
        command.SetAction(parse => CliOutput.Run(parse.GetValue(json), () =>
            Run(parse.GetRequiredValue(name), parse.GetValue(file) ? SegmentBacking.File : SegmentBacking.SharedMemory, parse.GetValue(json))));
        return command;
    }

    private static void WriteJournal(SegmentJson.JournalJson journal)
    {
        string writer = journal.WritersMode == JournalWriters.Many ? $"writers: up to {journal.MaxWriters}, {journal.Writers.Count(w => w.Process.Alive)} live"
            : journal.Writer is { } w ? $"writer: pid {w}" : "writer: none";
        AnsiConsole.MarkupLine(CliOutput.Escape($"journal: {journal.Capacity:N0} slots of {journal.SlotSize} bytes, {journal.Policy}; write position {journal.WritePosition:N0}"));
        AnsiConsole.MarkupLine(CliOutput.Escape(writer));
        if (journal.WritersMode == JournalWriters.Many)
        {
            var writers = new Table().Title("writers").AddColumns("slot", "process", "claiming or last wrote");
            foreach (SegmentJson.WriterJson slot in journal.Writers)
            {
                writers.AddRow(slot.Slot.ToString(System.Globalization.CultureInfo.InvariantCulture), CliOutput.Escape(slot.Process.ToString()),
                    slot.Claiming is long claiming ? $"{claiming:N0}" : "-");
            }
            AnsiConsole.Write(writers);
        }
        var cursors = new Table().Title("cursors").AddColumns("id", "name", "committed", "lag", "reader");
        foreach (SegmentJson.CursorJson cursor in journal.Cursors)
        {
            cursors.AddRow(cursor.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), CliOutput.Escape(cursor.Name ?? ""),
                $"{cursor.CommittedPosition:N0}", $"{cursor.Lag:N0}", cursor.Reader is { } reader ? CliOutput.Escape(reader.ToString()) : "-");
        }
        AnsiConsole.Write(cursors);
    }

    private static void WriteQueue(SegmentJson.QueueJson queue)
    {
        AnsiConsole.MarkupLine(CliOutput.Escape(
            $"queue: {queue.Capacity:N0} bytes ({queue.QueuedBytes:N0} queued), messages up to {queue.MaxMessage:N0} bytes; {queue.ProducerSlots} producer slots; claims aborted by dead producers: {queue.AbortedClaims:N0}"));
        var producers = new Table().Title("producers").AddColumns("slot", "process");
        foreach (SegmentJson.ProducerJson producer in queue.Producers)
        {
            producers.AddRow(producer.Slot.ToString(System.Globalization.CultureInfo.InvariantCulture), CliOutput.Escape(producer.Process.ToString()));
        }
        AnsiConsole.Write(producers);
    }

    private static int Run(string name, SegmentBacking backing, bool json)
    {
        SegmentInfo info = SegmentCatalog.Inspect(name, backing);
        SegmentJson.LockJson? arcLock = null;
        if (info.Kind == SegmentKind.Arc && info.State == SegmentState.Ready)
        {
            ArcSample state = SegmentStatistics.Sample(info.Name).Arc!.Value;
            arcLock = new SegmentJson.LockJson(state.HolderPid, state.HolderPid is null ? null : state.HolderAlive, state.ValueChanging, state.Locks, state.OwnerDied);
        }
        SegmentJson.JournalJson? journal = null;
        if (info.Kind == SegmentKind.Journal && info.State == SegmentState.Ready && backing == SegmentBacking.SharedMemory)
        {
            using Journal opened = Journal.Open(info.Name);
            journal = SegmentJson.JournalJson.From(opened);
        }
        SegmentJson.QueueJson? queue = null;
        if (info.Kind == SegmentKind.Queue && info.State == SegmentState.Ready && backing == SegmentBacking.SharedMemory)
        {
            using SharedQueue opened = SharedQueue.Open(info.Name);
            queue = SegmentJson.QueueJson.From(opened);
        }
        if (json)
        {
            CliOutput.WriteJson(SegmentJson.From(info, withProcesses: true) with { Lock = arcLock, Journal = journal, Queue = queue });
            return ExitCodes.Success;
        }
        var header = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => header.AddRow($"[grey]{key}[/]", CliOutput.Escape(value));
        Row("name", info.Name);
        Row("kind", info.Kind.ToString());
        Row("status", $"{info.Status} (state {info.State})");
        Row("layout version", info.LayoutVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row("size", $"{LsCommand.Bytes(info.FileSize)} ({info.FileSize:N0} bytes; payload {info.PayloadSize:N0})");
        Row("payload type", info.PayloadType.Value == 0 ? "(untyped)" : info.PayloadType.ToString());
        Row("created", $"{info.CreatedAt:u} by pid {info.Creator.Pid}{(info.CreatorAlive ? "" : " (no longer running)")}");
        Row("mode", $"0{Convert.ToString((int)info.Mode, 8)} (uid {info.OwnerUid})");
        Row("remove when unused", info.RemoveWhenUnused ? "yes" : "no");
        Row("references", $"{info.LiveReferences} live, in {info.LiveProcesses} process(es)");
        if (arcLock is not null)
        {
            Row("lock", arcLock.HolderPid is int pid
                ? $"held by pid {pid}{(arcLock.HolderAlive == true ? "" : " (dead: the next locker sees PreviousOwnerDied)")}{(arcLock.Changing ? ", value mid-change" : "")}"
                : $"free (value published {arcLock.Locks} times)");
        }
        if (info.RemovalClaimant is { } claimant)
        {
            Row("being removed by", $"pid {claimant.Pid}");
        }
        AnsiConsole.Write(header);
        var processes = new Table().Title("attached processes").AddColumns("pid", "start (ticks)", "references", "alive");
        foreach (AttachedProcess p in info.Processes)
        {
            processes.AddRow(p.Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
                p.Process.StartTicks.ToString(System.Globalization.CultureInfo.InvariantCulture),
                p.References.ToString(System.Globalization.CultureInfo.InvariantCulture), p.IsAlive ? "yes" : "[yellow]no[/]");
        }
        AnsiConsole.Write(processes);
        if (journal is not null)
        {
            WriteJournal(journal);
        }
        if (queue is not null)
        {
            WriteQueue(queue);
        }
        return ExitCodes.Success;
    }
}
