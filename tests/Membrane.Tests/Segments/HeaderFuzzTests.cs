using Membrane.Errors;
using Membrane.Fuzz;
using Membrane.Arcs;
using Membrane.Journals;
using Membrane.Rings;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Membrane.Tests.Segments;

/// <summary>
/// The header fuzz target (fuzz/Membrane.Fuzz, <see cref="HeaderTarget"/>) over a corpus a test can afford: a real
/// segment of every kind (raw, arc, journal, ring), whole, then with bytes changed in its first 8 KiB (the common header,
/// the kind's own header, and the start of its payload) and sometimes cut short. Every input must give success or an
/// exception of ours for every kind it is opened as, within a bound on time. MEMBRANE_TEST_SEED replays a failure.
/// </summary>
public sealed class HeaderFuzzTests : IDisposable
{
    private const int MutationsPerKind = 250;
    private readonly TestSegments _segments = new();
    private readonly ITestOutputHelper _output;

    public HeaderFuzzTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Every_kind_of_segment_opens_whole_and_every_damaged_copy_opens_or_is_refused_with_an_error_of_ours()
    {
        int seed = TestSeed.FromEnvironment(defaultSeed: 1502);
        var random = new Random(seed);
        var images = new Dictionary<string, byte[]>
        {
            ["raw"] = Image("raw", name => SharedSegment.Create(name, 8192)),
            ["arc"] = Image("arc", name => IpcArc<long>.Create(name, 42)),
            ["journal"] = Image("journal", name =>
            {
                var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 32, SlotSize = 64, Cursors = 2 });
                using JournalWriter writer = journal.CreateWriter();
                for (int i = 0; i < 40; i++)
                {
                    writer.Append([(byte)i]);
                }
                return journal;
            }),
            ["ring"] = Image("ring", name =>
            {
                var ring = SharedRing.Create(name, new RingOptions { Capacity = 4096 });
                using RingProducer producer = ring.CreateProducer();
                for (int i = 0; i < 30; i++)
                {
                    producer.TryWrite(new byte[i * 3]);
                }
                return ring;
            }),
        };
        var outcomes = new Dictionary<string, int>();

        Unblocked.Run(() =>
        {
            foreach ((string kind, byte[] image) in images)
            {
                string whole = HeaderTarget.Run(_segments.NewName("header-fuzz"), image);
                Assert.True(whole.Contains($"{kind}: ok", StringComparison.Ordinal), $"seed {seed}: a whole {kind} segment did not open as one: {whole}");
                for (int mutation = 0; mutation < MutationsPerKind; mutation++)
                {
                    string outcome = $"{kind} damaged → {HeaderTarget.Run(_segments.NewName("header-fuzz"), SegmentDamage.Damage(image, random))}";
                    outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                }
            }
        }, TimeSpan.FromMinutes(2), $"seed {seed}");

        _output.WriteLine($"seed {seed}: " + string.Join("\n", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Value} × {o.Key}")));
        foreach (string kind in images.Keys)
        {
            Assert.True(outcomes.Keys.Any(o => o.StartsWith($"{kind} damaged", StringComparison.Ordinal) && o.Contains($"{kind}: ok", StringComparison.Ordinal)),
                $"seed {seed}: no damaged {kind} opened at all: damage everywhere is no test of the checks");
            Assert.True(outcomes.Keys.Any(o => o.StartsWith($"{kind} damaged", StringComparison.Ordinal) && !o.Contains($"{kind}: ok", StringComparison.Ordinal)),
                $"seed {seed}: no damage to a {kind} was ever noticed");
        }
    }

    [Fact]
    public void A_journal_whose_write_position_would_overflow_its_stamps_is_refused_not_read_for_ever()
    {
        string name = _segments.NewName("finding-write-position");
        using (var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 32, SlotSize = 64 }))
        using (JournalWriter writer = journal.CreateWriter())
        {
            writer.Append([1]);
        }
        PokeLong(name, SegmentHeaderLayout.Size + JournalLayout.WritePositionOffset, 7_205_759_403_792_793_640); // found by seed 101

        var error = Assert.Throws<SegmentCorruptException>(() => Membrane.Journals.Journal.Open(name));
        Assert.Contains("write position", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_arc_whose_lock_type_is_damaged_is_refused_and_never_handed_to_glibc()
    {
        string name = _segments.NewName("finding-mutex-kind");
        using var arc = IpcArc<long>.Create(name, 1);
        // "Priority protect" with a garbage ceiling: glibc asserts on it and aborts the process (found by seed 138).
        PokeLong(name, SegmentHeaderLayout.Size + ArcLayout.MutexOffset + 16, 0x7F00_0000_0000_0040);

        Assert.Throws<SegmentCorruptException>(() => IpcArc<long>.Open(name));
        Assert.Throws<SegmentCorruptException>(() => arc.Lock());
        Assert.Throws<SegmentCorruptException>(() => arc.TryLock(TimeSpan.Zero, out _));
        Assert.Equal(1, arc.Read()); // the value itself is untouched and still readable
    }

    private static void PokeLong(string name, long offset, long value)
    {
        using var file = new FileStream(TestSegments.ShmPath(name), FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(BitConverter.GetBytes(value));
    }

    /// <summary>The bytes of a segment made by <paramref name="make"/>, taken while its handle is open (arcs and rings go when unused).</summary>
    private byte[] Image(string purpose, Func<string, IDisposable> make)
    {
        string name = _segments.NewName("header-image-" + purpose);
        using IDisposable handle = make(name);
        return File.ReadAllBytes(TestSegments.ShmPath(name));
    }
}
