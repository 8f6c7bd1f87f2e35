using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Membrane.Errors;
using Membrane.Journals;

namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane reporter</c>: follows a journal from cursor K and writes every entry to a CSV file, exactly once
/// across crashes: rows are written (and the file flushed to the kernel) before the cursor is committed, and a
/// restarted reporter resumes after the last row its file holds.
/// </summary>
internal static class ReporterCommand
{
    /// <summary>Rows between two flush-and-commit points, when entries keep coming.</summary>
    private const int RowsPerCommit = 4096;

    internal static Command Create()
    {
        var journal = new Option<string>("--journal") { Description = "The journal's name.", Required = true };
        var id = new Option<int>("--id") { Description = "The reader id: the cursor this reporter owns.", Required = true };
        var output = new Option<string?>("--out") { Description = "The CSV file (default output_K.csv)." };
        var untilIdle = new Option<double?>("--until-idle") { Description = "Exit after this many seconds without a new entry." };
        var command = new Command("reporter", "Follow a journal from one cursor and write every entry to a CSV file, exactly once across crashes.")
        {
            journal, id, output, untilIdle, StopSignal.AtEndOfInput,
        };
        command.SetAction(parse => CliOutput.Run(json: false, () => Run(
            parse.GetRequiredValue(journal), parse.GetValue(id),
            parse.GetValue(output) ?? string.Create(CultureInfo.InvariantCulture, $"output_{parse.GetValue(id)}.csv"),
            parse.GetValue(untilIdle), parse.GetValue(StopSignal.AtEndOfInput))));
        return command;
    }

    private static int Run(string name, int id, string path, double? untilIdle, bool stopAtEndOfInput)
    {
        using var stop = new StopSignal(stopAtEndOfInput);
        using Journal journal = Journal.Open(name);
        using JournalReader reader = journal.OpenReader(id);
        long? resume = CsvRecovery.NextSequence(path);
        if (resume is long next)
        {
            if (next > journal.WritePosition)
            {
                throw new MembraneException($"The CSV file {path} goes further than the journal has entries: it belongs to another journal.",
                    name, expected: $"rows up to sequence {journal.WritePosition - 1}", found: $"rows up to {next - 1}");
            }
            reader.Seek(next);
        }
        using var file = new StreamWriter(path, append: true, new UTF8Encoding(false), bufferSize: 1 << 16) { NewLine = "\n" };
        if (file.BaseStream.Length == 0)
        {
            file.WriteLine(Quote.CsvHeader);
        }
        long rows = 0, lost = 0, aborted = 0, pending = 0;
        byte[] entry = new byte[journal.SlotSize]; // a whole slot: an entry of any length is read, then judged
        long idleLimit = untilIdle is double seconds ? (long)(seconds * Stopwatch.Frequency) : long.MaxValue;
        long? idleSince = null; // set by the first read that found nothing: the clock is read only while idle
        while (!stop.Token.IsCancellationRequested)
        {
            bool got;
            JournalRecord record;
            try
            {
                got = pending > 0
                    ? reader.TryRead(entry, out record)
                    : reader.TryRead(entry, TimeSpan.FromMilliseconds(100), stop.Token, out record);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (!got)
            {
                // Idle: commit what is written, and a skip past a dead writer's hole that no entry follows yet (its
                // "# aborted" line comes with the next entry; a restart resumes from the file and skips it again).
                if (pending > 0 || reader.Position != reader.CommittedPosition)
                {
                    Checkpoint(file, reader, ref pending);
                    continue;
                }
                idleSince ??= Stopwatch.GetTimestamp();
                if (Stopwatch.GetTimestamp() - idleSince > idleLimit)
                {
                    break;
                }
                continue;
            }
            idleSince = null;
            if ((record.LostBefore | record.AbortedBefore) != 0)
            {
                file.WriteLine(GapLine(record));
                lost += record.LostBefore;
                aborted += record.AbortedBefore;
            }
            file.WriteLine(Quote.From(entry.AsSpan(0, record.Length), name, record.Sequence).ToCsv(record.Sequence));
            rows++;
            if (++pending >= RowsPerCommit)
            {
                Checkpoint(file, reader, ref pending);
            }
        }
        Checkpoint(file, reader, ref pending);
        Console.Out.WriteLine($"reporter {id}: wrote {rows} rows to {path}, lost {lost}{(aborted > 0 ? $", skipped {aborted} aborted" : "")}, now at sequence {reader.Position}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// The comment line for the sequences a record says went undelivered just before it: "# lost N (sequences A..B)" for
    /// entries overwritten before the reporter got to them, "# aborted M (...)" for holes left by writers that died
    /// mid-append (many writers), or both ("# lost N, aborted M (...)"). Every form ends with the range, which
    /// <see cref="CsvRecovery"/> resumes after.
    /// </summary>
    private static string GapLine(JournalRecord record)
    {
        long first = record.Sequence - record.LostBefore - record.AbortedBefore;
        string what = (record.LostBefore, record.AbortedBefore) switch
        {
            (0, long aborted) => $"aborted {aborted}",
            (long lost, 0) => $"lost {lost}",
            (long lost, long aborted) => $"lost {lost}, aborted {aborted}",
        };
        return string.Create(CultureInfo.InvariantCulture, $"# {what} (sequences {first}..{record.Sequence - 1})");
    }

    /// <summary>Rows into the kernel first, then the cursor: a crash between the two leaves the file ahead, never behind.</summary>
    private static void Checkpoint(StreamWriter file, JournalReader reader, ref long pending)
    {
        file.Flush();
        reader.Commit();
        pending = 0;
    }
}
