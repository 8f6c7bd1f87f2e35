using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Journals;

namespace Membrane.TestPeer;

/// <summary>Verbs that write a journal from another process. Entries are 64 bytes that a reader can check against their sequence.</summary>
internal static class JournalVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "journal-write" => Write(name, long.Parse(rest[0], CultureInfo.InvariantCulture), hang: rest is [_, "hang"]),
        "journal-write-until-stopped" => WriteUntilStopped(name),
        "journal-hold-writer" => HoldWriter(name),
        "journal-repair-parked" => RepairParkedUntilStopped(name),
        "journal-write-tagged" => WriteTagged(name, int.Parse(rest[0], CultureInfo.InvariantCulture), long.Parse(rest[1], CultureInfo.InvariantCulture)),
        _ => -1,
    };

    /// <summary>The 64 bytes of entry <paramref name="sequence"/>: eight longs, each derived from it.</summary>
    internal static void Fill(Span<long> entry, long sequence)
    {
        for (int i = 0; i < entry.Length; i++)
        {
            entry[i] = unchecked(sequence * (long)0x9E37_79B9_7F4A_7C15UL) ^ i;
        }
    }

    /// <summary>
    /// The 64 bytes of a writer's <paramref name="index"/>-th entry, for journals with many writers (whose sequences a
    /// writer cannot know beforehand): the writer, the index, then six longs derived from both.
    /// </summary>
    internal static void FillTagged(Span<long> entry, int writer, long index)
    {
        Fill(entry, ((long)writer << 40) | index);
        entry[0] = writer;
        entry[1] = index;
    }

    /// <summary>Whether <paramref name="entry"/> is whole: what <see cref="FillTagged"/> wrote for the writer and index it names.</summary>
    internal static bool IsWholeTagged(ReadOnlySpan<long> entry)
    {
        Span<long> expected = stackalloc long[8];
        FillTagged(expected, (int)entry[0], entry[1]);
        return entry.Length == 8 && entry.SequenceEqual(expected);
    }

    /// <summary>
    /// Takes a writer of a journal with many writers, says "writing", appends <paramref name="count"/>
    /// tagged entries (<see cref="FillTagged"/>), says "written N".
    /// </summary>
    private static int WriteTagged(string name, int writerId, long count)
    {
        using var journal = Journal.Open(name);
        using JournalWriter writer = journal.CreateWriter();
        Verbs.Say("writing");
        Span<long> entry = stackalloc long[8];
        for (long i = 0; i < count; i++)
        {
            FillTagged(entry, writerId, i);
            writer.Append(MemoryMarshal.AsBytes(entry));
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"written {count}"));
        return 0;
    }

    /// <summary>Appends <paramref name="count"/> entries, says "written N"; with hang, waits there to be killed (still the writer).</summary>
    private static int Write(string name, long count, bool hang)
    {
        using var journal = Journal.Open(name);
        using JournalWriter writer = journal.CreateWriter();
        Span<long> entry = stackalloc long[8];
        for (long i = 0; i < count; i++)
        {
            Fill(entry, writer.NextSequence);
            writer.Append(MemoryMarshal.AsBytes(entry));
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"written {writer.NextSequence}"));
        if (hang)
        {
            Thread.Sleep(Timeout.Infinite);
        }
        return 0;
    }

    /// <summary>Takes the writer role, appends one entry, says "writer", and keeps the role until stdin closes (or a kill).</summary>
    private static int HoldWriter(string name)
    {
        using var journal = Journal.Open(name);
        using JournalWriter writer = journal.CreateWriter();
        Span<long> entry = stackalloc long[8];
        Fill(entry, writer.NextSequence);
        writer.Append(MemoryMarshal.AsBytes(entry));
        Verbs.Say("writer");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>Says "started", appends as fast as it can until a line arrives on stdin, says "done N".</summary>
    private static int WriteUntilStopped(string name)
    {
        using var journal = Journal.Open(name);
        using JournalWriter writer = journal.CreateWriter();
        var stop = Task.Run(Console.In.ReadLine);
        Span<long> entry = stackalloc long[8];
        Verbs.Say("started");
        while (!stop.IsCompleted)
        {
            for (int i = 0; i < 1024; i++)
            {
                Fill(entry, writer.NextSequence);
                writer.Append(MemoryMarshal.AsBytes(entry));
            }
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {writer.NextSequence}"));
        return 0;
    }

    /// <summary>
    /// Says "repairing", then puts the journal's count of parked readers right (as a writer does every 4,096 appends)
    /// over and over until a line arrives on stdin, and says "repaired N" with the number of repairs made.
    /// </summary>
    private static int RepairParkedUntilStopped(string name)
    {
        using var journal = Journal.Open(name);
        var stop = Task.Run(Console.In.ReadLine);
        long repairs = 0;
        Verbs.Say("repairing");
        while (!stop.IsCompleted)
        {
            journal.RepairParkedReaders();
            repairs++;
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"repaired {repairs}"));
        return 0;
    }
}
