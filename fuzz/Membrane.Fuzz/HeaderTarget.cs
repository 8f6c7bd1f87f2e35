using Membrane.Arcs;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.Fuzz;

/// <summary>
/// The fuzz target for header validation: a segment file whose bytes anyone could have written (a damaged file, a
/// hostile local user: /dev/shm is world-writable). The input becomes the whole file; it is then inspected and opened
/// as every kind of segment, and whatever opens is used a little (an arc read and tried, a journal read from each
/// cursor, a ring consumed). Allowed outcomes: success, or one of Membrane's exceptions. Anything else (another
/// exception, a crash, a hang) is a finding.
/// </summary>
public static class HeaderTarget
{
    /// <summary>Writes <paramref name="file"/> to /dev/shm/<paramref name="name"/>, runs every check, removes it; returns the outcome of each.</summary>
    public static string Run(string name, ReadOnlySpan<byte> file)
    {
        string path = Path.Combine(SegmentName.SharedMemoryDirectory, name);
        File.WriteAllBytes(path, file.ToArray());
        try
        {
            return string.Join(", ",
                Outcome("inspect", () => SegmentCatalog.Inspect(name)),
                Outcome("raw", () => SharedSegment.Open(name).Dispose()),
                Outcome("arc", () => UseArc(name)),
                Outcome("journal", () => UseJournal(name)),
                Outcome("ring", () => UseRing(name)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void UseArc(string name)
    {
        using var arc = IpcArc<long>.Open(name);
        _ = arc.Read();
        _ = arc.CountReferences();
        if (arc.TryLock(TimeSpan.Zero, out IpcArcGuard<long> guard)) // never Lock(): a damaged lock word may look held for ever
        {
            guard.Value++;
            guard.Dispose();
        }
    }

    private static void UseJournal(string name)
    {
        using var journal = Journal.Open(name);
        byte[] entry = new byte[journal.SlotSize];
        _ = journal.Cursors();
        for (int cursor = 0; cursor < journal.CursorCount; cursor++)
        {
            using JournalReader reader = journal.OpenReader(cursor);
            for (long read = 0; read < 2 * journal.Capacity && reader.TryRead(entry, out _); read++)
            {
            }
        }
    }

    private static void UseRing(string name)
    {
        using var ring = SharedRing.Open(name);
        using RingConsumer consumer = ring.CreateConsumer();
        for (long read = 0; read < 2 * ring.Capacity / RingLayout.RecordHeaderSize && consumer.TryRead(out RingLease lease); read++)
        {
            lease.Dispose();
        }
    }

    /// <summary>"kind: ok", or "kind: " and the name of the Membrane exception; any other exception escapes (a finding).</summary>
    private static string Outcome(string kind, Action use)
    {
        try
        {
            use();
            return kind + ": ok";
        }
        catch (MembraneException e)
        {
            return $"{kind}: {e.GetType().Name}";
        }
    }
}
