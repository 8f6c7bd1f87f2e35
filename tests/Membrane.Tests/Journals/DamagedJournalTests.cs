using System.Globalization;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Membrane.Tests.Journals;

/// <summary>
/// Copies of a real journal with bytes changed in its first 8 KiB (the common header, the journal's own header and its
/// cursor table) or cut short: each must be refused with an error of ours or read for what is valid in it; never a
/// crash, a hang, or a read outside the mapping. Seeded: MEMBRANE_TEST_SEED replays a failure.
/// </summary>
public sealed class DamagedJournalTests : IDisposable
{
    private const int Copies = 300;
    private const int CopiesThroughTheCli = 24;
    private readonly TestSegments _segments = new();
    private readonly ITestOutputHelper _output;

    public DamagedJournalTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Every_damaged_copy_gives_an_error_of_ours_or_reads_what_is_valid()
    {
        int seed = TestSeed.FromEnvironment(defaultSeed: 15);
        byte[] image = RealJournalImage();
        var random = new Random(seed);
        var outcomes = new Dictionary<string, int>();
        var cliCopies = new List<string>();

        Unblocked.Run(() =>
        {
            for (int copy = 0; copy < Copies; copy++)
            {
                string name = _segments.NewName("damaged-journal");
                File.WriteAllBytes(TestSegments.ShmPath(name), SegmentDamage.Damage(image, random));
                string outcome = $"inspect: {Outcome(() => SegmentCatalog.Inspect(name))}; read: {Outcome(() => ReadWhatIsValid(name))}";
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                if (copy % (Copies / CopiesThroughTheCli) == 0)
                {
                    cliCopies.Add(name);
                }
            }
        }, TimeSpan.FromMinutes(2), $"seed {seed}");

        string summary = $"seed {seed}: " + string.Join("; ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Value} × {o.Key}"));
        _output.WriteLine(summary);
        Assert.True(outcomes.Keys.Any(o => o.EndsWith("read: read", StringComparison.Ordinal)), "no damaged copy was readable at all: " + summary);
        Assert.True(outcomes.Keys.Any(o => !o.EndsWith("read: read", StringComparison.Ordinal)), "no damage was ever noticed: " + summary);

        string csvDirectory = _segments.NewDirectory("damaged-journal-csv");
        foreach (string name in cliCopies)
        {
            (int inspected, _, string inspectErrors) = Peer.RunCli("inspect", name);
            Assert.True(inspected is 0 or 1, $"{summary}. inspect {name} exited {inspected}: {inspectErrors}");
            (int reported, _, string reportErrors) = Peer.RunCli("reporter", "--journal", name, "--id", "0",
                "--out", Path.Combine(csvDirectory, name + ".csv"), "--until-idle", "0.2");
            Assert.True(reported is 0 or 1, $"{summary}. reporter on {name} exited {reported}: {reportErrors}");
        }
    }

    /// <summary>A journal as a user leaves it: 100 entries written, a reader by name at 50, a reader by number at 100.</summary>
    private byte[] RealJournalImage()
    {
        string name = _segments.NewName("damaged-journal-original");
        using (var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 64, SlotSize = 64, Cursors = 4 }))
        {
            using (JournalWriter writer = journal.CreateWriter())
            {
                for (long i = 0; i < 100; i++)
                {
                    writer.Append(BitConverter.GetBytes(i));
                }
            }
            using (JournalReader named = journal.OpenReader("reporter", StartPosition.Oldest))
            {
                named.Seek(50);
                named.Commit();
            }
            using JournalReader numbered = journal.OpenReader(1, StartPosition.Newest);
            numbered.Commit();
        }
        return File.ReadAllBytes(TestSegments.ShmPath(name));
    }

    /// <summary>Opens the journal and reads from each cursor until nothing is left (at most two rings' worth): "read", or the error.</summary>
    private static string ReadWhatIsValid(string name)
    {
        using var journal = Membrane.Journals.Journal.Open(name);
        byte[] entry = new byte[journal.SlotSize];
        for (int cursor = 0; cursor < journal.CursorCount; cursor++)
        {
            using JournalReader reader = journal.OpenReader(cursor);
            for (long read = 0; read < 2 * journal.Capacity && reader.TryRead(entry, out _); read++)
            {
            }
        }
        return "read";
    }

    /// <summary>"ok", the value, or the name of the error of ours it threw; any other exception fails the test.</summary>
    private static string Outcome<T>(Func<T> call)
    {
        try
        {
            return call() as string ?? "ok";
        }
        catch (MembraneException e)
        {
            return e.GetType().Name;
        }
    }
}
