using System.Runtime.CompilerServices;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Tests.Infrastructure;
using Xunit.Abstractions;
using L = Membrane.Journals.JournalLayout;

namespace Membrane.Tests.Journals;

/// <summary>
/// Every kind of lie a journal's writer (or anyone who can write its file) can tell, each told many times with values
/// drawn from a seeded generator (MEMBRANE_TEST_SEED replays a failure) and each counted: lies in slots are read by a
/// real reader, lies in the journal's header and cursor table are found by a real <see cref="Membrane.Journals.Journal.Open"/>.
/// Every one must end in <see cref="SegmentCorruptException"/>; none may be delivered as an entry.
/// </summary>
public sealed unsafe class JournalLieTests : IDisposable
{
    private const long Capacity = 16;
    private const int TellingsPerLie = 20;
    private readonly TestSegments _segments = new();
    private readonly ITestOutputHelper _output;

    public JournalLieTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _segments.Dispose();

    /// <summary>A lie, told in a journal with 8 entries written and a reader at 4; read by that reader, or by an open.</summary>
    private sealed record Lie(string Name, Action<Membrane.Journals.Journal, Random> Tell, bool FoundAtOpen = false);

    private static readonly Lie[] s_lies =
    [
        new("a published entry's stamp made smaller", (j, r) => Stamp(j, 4) = L.CompleteStamp(4) - (2 * r.Next(2, 1000))),
        new("a later lap's stamp past the write position", (j, r) => Stamp(j, 8) = L.CompleteStamp(8 + (Capacity * r.Next(1, 1000)))),
        new("an entry longer than its slot", (j, r) => Length(j, 4) = r.Next(j.SlotSize + 1, int.MaxValue)),
        new("a negative entry length", (j, r) => Length(j, 4) = -r.Next(1, int.MaxValue)),
        new("a write position beyond any stamp", (j, r) => Field64(j, L.WritePositionOffset) = L.MaxSequence + r.Next(1, 1000), FoundAtOpen: true),
        new("a negative write position", (j, r) => Field64(j, L.WritePositionOffset) = -r.Next(1, int.MaxValue), FoundAtOpen: true),
        new("a slot size of 0 or over 1 MiB", (j, r) => Field32(j, L.SlotSizeOffset) = r.Next(2) == 0 ? 0 : r.Next(L.MaxSlotSize + 1, int.MaxValue), FoundAtOpen: true),
        new("a stride that does not fit the slot size", (j, r) => Field32(j, L.SlotStrideOffset) = 64 * r.Next(3, 1000), FoundAtOpen: true),
        new("a capacity not a power of two, or beyond the largest", (j, r) =>
            Field64(j, L.CapacityOffset) = r.Next(2) == 0 ? (2 * r.Next(1, 1000)) + 1 : L.MaxCapacity << r.Next(1, 20), FoundAtOpen: true),
        new("a capacity whose ring overflows a long", (j, r) => Field64(j, L.CapacityOffset) = 1L << r.Next(57, 63), FoundAtOpen: true),
        new("a cursor count of 0 or over 1024", (j, r) => Field32(j, L.CursorCountOffset) = r.Next(2) == 0 ? 0 : r.Next(L.MaxCursors + 1, int.MaxValue), FoundAtOpen: true),
        new("an unknown overrun policy", (j, r) => Field32(j, L.PolicyOffset) = r.Next(2, int.MaxValue), FoundAtOpen: true),
        new("a slots offset elsewhere", (j, r) => Field64(j, L.SlotsOffsetOffset) = L.SlotsOffset(2, 0) + (64 * r.Next(1, 1000)), FoundAtOpen: true),
        new("an unknown writers mode", (j, r) => Field32(j, L.WritersOffset) = r.Next(2, int.MaxValue), FoundAtOpen: true),
        new("writer slots in a journal with one writer", (j, r) => Field32(j, L.WriterSlotsOffset) = r.Next(1, int.MaxValue), FoundAtOpen: true),
        new("a cursor committed past the write position", (j, r) => Cursor(j, 1).Committed = 9 + r.Next(0, 1000), FoundAtOpen: true),
        new("a cursor in an unknown state", (j, r) => Cursor(j, 1).State = (uint)r.Next(2, int.MaxValue), FoundAtOpen: true),
    ];

    [Fact]
    public void Every_kind_of_lie_is_caught_every_time_it_is_told()
    {
        int seed = TestSeed.FromEnvironment(defaultSeed: 1504);
        var random = new Random(seed);
        var caught = s_lies.ToDictionary(l => l.Name, _ => 0);
        byte[] entry = new byte[64];
        Unblocked.Run(() => TellEveryLie(seed, random, caught, entry), TimeSpan.FromMinutes(1), $"seed {seed}");

        string counts = string.Join("; ", caught.Select(c => $"{c.Key}: {c.Value}/{TellingsPerLie}"));
        _output.WriteLine($"seed {seed}: {counts}");
        Assert.All(caught, c => Assert.True(c.Value == TellingsPerLie, $"seed {seed}: {counts}"));
    }

    private void TellEveryLie(int seed, Random random, Dictionary<string, int> caught, byte[] entry)
    {
        foreach (Lie lie in s_lies)
        {
            for (int telling = 0; telling < TellingsPerLie; telling++)
            {
                string name = _segments.NewName("journal-lie");
                using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = Capacity, SlotSize = 64, Cursors = 2 });
                using (JournalWriter writer = journal.CreateWriter())
                {
                    for (int i = 0; i < 8; i++)
                    {
                        writer.Append(BitConverter.GetBytes((long)i));
                    }
                }
                using JournalReader reader = journal.OpenReader(0, StartPosition.Oldest);
                for (int i = 0; i < 4; i++)
                {
                    Assert.True(reader.TryRead(entry, out _));
                }
                lie.Tell(journal, random);
                Exception? error = Record.Exception(() =>
                {
                    if (lie.FoundAtOpen)
                    {
                        using var opened = Membrane.Journals.Journal.Open(name);
                        using JournalReader late = opened.OpenReader(1, StartPosition.Oldest);
                        while (late.TryRead(entry, out _))
                        {
                        }
                    }
                    else
                    {
                        for (int read = 0; read < 4 * Capacity && reader.TryRead(entry, out JournalRecord record); read++)
                        {
                            Assert.True(record.Length is >= 0 and <= 64, $"a {record.Length}-byte entry was delivered");
                        }
                    }
                });
                if (error is SegmentCorruptException)
                {
                    caught[lie.Name]++;
                }
                else if (error is not null)
                {
                    throw new InvalidOperationException($"seed {seed}: '{lie.Name}' threw {error.GetType().Name}: {error.Message}", error);
                }
            }
        }
    }

    private static ref long Stamp(Membrane.Journals.Journal journal, long sequence) => ref journal.StampOf(sequence);

    private static ref int Length(Membrane.Journals.Journal journal, long sequence) => ref Unsafe.AsRef<int>(journal.Slot(sequence) + L.SlotLengthOffset);

    private static ref long Field64(Membrane.Journals.Journal journal, int offset) => ref Unsafe.AsRef<long>(journal.Payload + offset);

    private static ref int Field32(Membrane.Journals.Journal journal, int offset) => ref Unsafe.AsRef<int>(journal.Payload + offset);

    private static ref JournalCursor Cursor(Membrane.Journals.Journal journal, int id) => ref journal.Cursor(id);
}
