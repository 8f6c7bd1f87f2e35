using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Arcs;
using Membrane.Journals;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.TestPeer;

/// <summary>
/// The operations of the crash matrix: each runs one protocol step by step, saying what it completed, so that a crash
/// point armed in its environment (MEMBRANE_CRASH_AT) kills it at a known place. Message and entry contents are
/// <see cref="Content"/>, which the surviving side checks.
/// </summary>
internal static class CrashVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "crash-create" => Create(name),
        "crash-open" => Open(name),
        "crash-arc-write" => ArcWrite(name, long.Parse(rest[0], CultureInfo.InvariantCulture)),
        "crash-journal-read" => JournalRead(name, rest[0], int.Parse(rest[1], CultureInfo.InvariantCulture), int.Parse(rest[2], CultureInfo.InvariantCulture)),
        "crash-journal-reader" => JournalReader(name, rest[0]),
        "crash-journal-remove-cursor" => JournalRemoveCursor(name, int.Parse(rest[0], CultureInfo.InvariantCulture)),
        "crash-ring-write" => RingWrite(name, int.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture),
            int.Parse(rest[2], CultureInfo.InvariantCulture)),
        "crash-ring-read" => RingRead(name, int.Parse(rest[0], CultureInfo.InvariantCulture)),
        _ => -1,
    };

    /// <summary>Creates a 4 KiB raw segment, says "created", keeps it until stdin closes.</summary>
    private static int Create(string name)
    {
        using SharedSegment segment = SharedSegment.Create(name, 4096);
        Verbs.Say("created");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>Opens (attaches), says "attached", detaches when stdin closes.</summary>
    private static int Open(string name)
    {
        using SharedSegment segment = SharedSegment.Open(name);
        Verbs.Say("attached");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>Writes a <see cref="Block64"/> whose every field is <paramref name="value"/> with <see cref="IpcArc{T}.Write"/>, says "written".</summary>
    private static int ArcWrite(string name, long value)
    {
        using var arc = IpcArc<Block64>.Open(name);
        arc.Write(new Block64 { A = value, B = value, C = value, D = value, E = value, F = value, G = value, H = value });
        Verbs.Say("written");
        return 0;
    }

    /// <summary>
    /// Attaches to cursor <paramref name="cursor"/>, then <paramref name="batches"/> times reads <paramref name="batch"/>
    /// entries (waiting for each, checking its content) and commits, saying "committed P" after each commit.
    /// </summary>
    private static int JournalRead(string name, string cursor, int batch, int batches)
    {
        using var journal = Journal.Open(name);
        using JournalReader reader = journal.OpenReader(cursor);
        byte[] entry = new byte[journal.SlotSize];
        for (int b = 0; b < batches; b++)
        {
            for (int i = 0; i < batch; i++)
            {
                JournalRecord record = reader.Read(entry);
                if (!Content.Matches(entry.AsSpan(0, record.Length), record.Sequence))
                {
                    Verbs.Say($"wrong content at {record.Sequence}");
                    return 1;
                }
            }
            reader.Commit();
            Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"committed {reader.CommittedPosition}"));
        }
        return 0;
    }

    /// <summary>Attaches a reader to cursor <paramref name="cursor"/>, says "attached", and waits for an entry (to be killed while parked).</summary>
    private static int JournalReader(string name, string cursor)
    {
        using var journal = Journal.Open(name);
        using JournalReader reader = journal.OpenReader(cursor);
        Verbs.Say("attached");
        reader.Read(new byte[journal.SlotSize]);
        return 0;
    }

    /// <summary>Removes cursor <paramref name="cursor"/>, says "removed".</summary>
    private static int JournalRemoveCursor(string name, int cursor)
    {
        using var journal = Journal.Open(name);
        journal.RemoveCursor(cursor);
        Verbs.Say("removed");
        return 0;
    }

    /// <summary>
    /// Writes <paramref name="count"/> messages of <see cref="Content"/> (of <paramref name="size"/> bytes, 0: of varying
    /// sizes), waiting for room, in parts above <paramref name="partSize"/> bytes (0: never); says "wrote N".
    /// </summary>
    private static int RingWrite(string name, int count, int size, int partSize)
    {
        using var ring = SharedRing.Open(name);
        using RingProducer producer = ring.CreateProducer();
        producer.PartSize = partSize;
        byte[] message = new byte[Math.Max(size, Content.MaxLength)];
        for (long sequence = 0; sequence < count; sequence++)
        {
            int length = Content.Write(message, sequence, size);
            producer.Write(message.AsSpan(0, length));
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"wrote {count}"));
        return 0;
    }

    /// <summary>Says "attached", then reads <paramref name="count"/> messages in place, checking each, releasing and publishing each; says "read N".</summary>
    private static int RingRead(string name, int count)
    {
        using var ring = SharedRing.Open(name);
        using RingConsumer consumer = ring.CreateConsumer();
        Verbs.Say("attached");
        for (long sequence = 0; sequence < count; sequence++)
        {
            if (!consumer.TryRead(Timeout.InfiniteTimeSpan, CancellationToken.None, out RingLease lease) || !Content.Matches(lease.Message, sequence))
            {
                Verbs.Say($"wrong message at {sequence}");
                return 1;
            }
            lease.Release(publish: true);
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"read {count}"));
        return 0;
    }
}

/// <summary>
/// What message or entry <c>s</c> holds in the crash matrix: its sequence, then bytes derived from it; 8 to
/// <see cref="MaxLength"/> bytes long by default (a length that varies with it, so a message cut short or shifted is
/// caught), or a fixed size of 8 bytes or more.
/// </summary>
internal static class Content
{
    internal const int MaxLength = 48;

    internal static int LengthOf(long sequence, int size = 0) => size > 0 ? size : 8 + (int)(sequence % 5 * 10);

    internal static int Write(Span<byte> buffer, long sequence, int size = 0)
    {
        int length = LengthOf(sequence, size);
        MemoryMarshal.Write(buffer, sequence);
        for (int i = 8; i < length; i++)
        {
            buffer[i] = (byte)((sequence * 31) + i);
        }
        return length;
    }

    internal static bool Matches(ReadOnlySpan<byte> message, long sequence, int size = 0)
    {
        byte[] expected = new byte[LengthOf(sequence, size)];
        Write(expected, sequence, size);
        return message.SequenceEqual(expected);
    }
}
