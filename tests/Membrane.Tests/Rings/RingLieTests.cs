using Membrane.Errors;
using Membrane.Rings;
using Membrane.Tests.Infrastructure;
using Xunit.Abstractions;
using L = Membrane.Rings.RingLayout;

namespace Membrane.Tests.Rings;

/// <summary>
/// Every kind of lie a ring peer can tell in shared memory, each told many times with values drawn from a seeded
/// generator (MEMBRANE_TEST_SEED replays a failure), and each counted: a check that stops catching one kind fails
/// here, however many other kinds are still caught. The lies are written straight into the ring, as a hostile peer
/// would, and read by a real consumer (or, for lies about the head, used by a real producer).
/// </summary>
public sealed class RingLieTests : IDisposable
{
    private const long Capacity = 4096;
    private const int TellingsPerLie = 40;
    private readonly TestSegments _segments = new();
    private readonly ITestOutputHelper _output;

    public RingLieTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _segments.Dispose();

    /// <summary>
    /// A lie: how it is told. Lies to the consumer are told in a ring holding 8 records of 64 bytes (56-byte messages),
    /// the first read (head 64, tail 512); lies about the head, in a ring the producer has just filled.
    /// </summary>
    private sealed record Lie(string Name, Action<SharedRing, Random> Tell, bool AboutTheHead = false);

    private static readonly Lie[] s_lies =
    [
        new("tail moved back", (ring, random) => Publish(ring, 64 - (8 * random.Next(1, 8)))),
        new("tail more than a ring ahead", (ring, random) => Publish(ring, 64 + Capacity + (8 * random.Next(1, 1000)))),
        new("unaligned tail", (ring, random) => Publish(ring, 64 + (8 * random.Next(1, 8)) + random.Next(1, 8))),
        new("negative length", (ring, random) => Record(ring, 64, -random.Next(1, int.MaxValue), L.MessageKind)),
        new("length over the largest message", (ring, random) => Record(ring, 64, random.Next(ring.MaxMessageSize + 1, int.MaxValue), L.MessageKind)),
        new("record beyond what is published", (ring, random) => Record(ring, 64, random.Next(8 * 56, ring.MaxMessageSize), L.MessageKind)),
        new("unknown kind", (ring, random) => Record(ring, 64, 48, random.Next(2) == 0 ? random.Next(6, int.MaxValue) : -random.Next(1, int.MaxValue))),
        new("padding that does not reach the end", (ring, random) => Record(ring, 64, random.Next(0, 400) * 8, L.PaddingKind)),
        new("a message in parts to a reader that takes none", (ring, random) => Record(ring, 64, 48, L.FirstPartKind)),
        new("head moved back", (ring, random) => Head(ring, 64 - (8 * random.Next(1, 8))), AboutTheHead: true),
        new("head past the tail", (ring, random) => Head(ring, Volatile.Read(ref ring.Field64(L.TailOffset)) + (8 * random.Next(1, 1000))), AboutTheHead: true),
        new("unaligned head", (ring, random) => Head(ring, 64 + random.Next(1, 8)), AboutTheHead: true),
    ];

    [Fact]
    public void Every_kind_of_lie_is_caught_every_time_it_is_told()
    {
        int seed = TestSeed.FromEnvironment(defaultSeed: 1501);
        var random = new Random(seed);
        var caught = s_lies.ToDictionary(l => l.Name, _ => 0);
        foreach (Lie lie in s_lies)
        {
            for (int telling = 0; telling < TellingsPerLie; telling++)
            {
                using SharedRing ring = SharedRing.Create(_segments.NewName("ring-lie"), new RingOptions { Capacity = Capacity });
                using RingProducer producer = ring.CreateProducer();
                using RingConsumer consumer = ring.CreateConsumer();
                for (int i = 0; i < 8; i++)
                {
                    Assert.True(producer.TryWrite(new byte[56]));
                }
                Assert.True(consumer.TryRead(new byte[56], out _)); // head at 64, tail at 512, both published
                while (lie.AboutTheHead && producer.TryWrite(new byte[56]))
                {
                    // filled: the next reservation has to read the head
                }
                lie.Tell(ring, random);
                Exception? error = Xunit.Record.Exception(() =>
                {
                    if (lie.AboutTheHead)
                    {
                        // The ring is full by the head the producer last saw: room for this needs the head, and the lie.
                        producer.TryReserve(56, out _);
                    }
                    else
                    {
                        while (consumer.TryRead(out RingLease lease))
                        {
                            lease.Dispose();
                        }
                    }
                });
                if (error is PeerViolationException)
                {
                    caught[lie.Name]++;
                }
                else if (error is not null)
                {
                    throw new InvalidOperationException($"seed {seed}: '{lie.Name}' threw {error.GetType().Name}, not a PeerViolationException", error);
                }
            }
        }

        string counts = string.Join("; ", caught.Select(c => $"{c.Key}: {c.Value}/{TellingsPerLie}"));
        _output.WriteLine($"seed {seed}: {counts}");
        Assert.All(caught, c => Assert.True(c.Value == TellingsPerLie, $"seed {seed}: {counts}"));
    }

    private static void Publish(SharedRing ring, long tail) => Volatile.Write(ref ring.Field64(L.TailOffset), tail);

    private static void Head(SharedRing ring, long head) => Volatile.Write(ref ring.Field64(L.HeadOffset), head);

    /// <summary>Overwrites the record header at <paramref name="position"/> (a published one) with the lie.</summary>
    private static unsafe void Record(SharedRing ring, long position, int length, int kind) =>
        *(ulong*)(ring.Data + position) = L.RecordHeader(length, kind);
}
