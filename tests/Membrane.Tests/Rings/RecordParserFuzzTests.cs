using System.Buffers.Binary;
using Membrane.Fuzz;
using Membrane.Rings;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Rings;

/// <summary>
/// The fuzz target (fuzz/Membrane.Fuzz) run over inputs a test can afford: valid ring images a real producer wrote,
/// mutated at random, and random bytes. The target throws on anything but a valid record or a PeerViolationException.
/// </summary>
public sealed class RecordParserFuzzTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void The_record_parser_accepts_what_a_producer_wrote_and_survives_every_mutation_of_it()
    {
        using SharedRing target = RecordParserTarget.CreateRing(_segments.NewName("fuzz-target"));
        int seed = TestSeed.FromEnvironment(defaultSeed: 20261122);
        var random = new Random(seed);
        long accepted = 0;
        for (int image = 0; image < 200; image++)
        {
            byte[] valid = ValidImage(random);
            Assert.True(RecordParserTarget.Run(target, valid) > 0, $"seed {seed}: a producer's own records were refused");
            for (int mutation = 0; mutation < 100; mutation++)
            {
                byte[] input = (byte[])valid.Clone();
                for (int flips = random.Next(1, 9); flips > 0; flips--)
                {
                    int at = random.Next(input.Length);
                    input[at] = random.Next(3) switch { 0 => (byte)random.Next(256), 1 => (byte)(input[at] ^ (1 << random.Next(8))), _ => 0xFF };
                }
                accepted += RunNamingSeed(target, input, seed);
            }
        }
        for (int i = 0; i < 5000; i++)
        {
            byte[] noise = new byte[random.Next(0, 16 + RecordParserTarget.Capacity + 64)];
            random.NextBytes(noise);
            accepted += RunNamingSeed(target, noise, seed);
        }
        Assert.True(accepted > 0);
    }

    /// <summary>A finding (any exception but a refusal, which the target absorbs) names the seed that replays it.</summary>
    private static int RunNamingSeed(SharedRing target, byte[] input, int seed)
    {
        try
        {
            return RecordParserTarget.Run(target, input);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"seed {seed} ({TestSeed.EnvironmentVariable}): {e.Message}", e);
        }
    }

    /// <summary>An input in the target's format holding what a real producer wrote: head, tail, then the record area.</summary>
    private byte[] ValidImage(Random random)
    {
        using var ring = SharedRing.Create(_segments.NewName("fuzz-image"), new RingOptions { Capacity = RecordParserTarget.Capacity });
        using RingProducer producer = ring.CreateProducer();
        using RingConsumer consumer = ring.CreateConsumer();
        producer.PartSize = random.Next(2) == 0 ? 0 : 64; // half the images hold messages in parts
        // Start somewhere in the ring, so that images wrap.
        byte[] scratch = new byte[200];
        for (int skip = random.Next(0, 40); skip > 0; skip--)
        {
            producer.TryWrite(new byte[random.Next(0, 200)]);
            consumer.TryRead(scratch, TimeSpan.Zero, CancellationToken.None, out _);
        }
        long head = Volatile.Read(ref ring.Field64(RingLayout.HeadOffset));
        while (producer.TryWrite(new byte[random.Next(0, 300)]))
        {
        }
        long tail = Volatile.Read(ref ring.Field64(RingLayout.TailOffset));
        byte[] image = new byte[16 + RecordParserTarget.Capacity];
        BinaryPrimitives.WriteInt64LittleEndian(image, head);
        BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(8), tail);
        unsafe
        {
            new ReadOnlySpan<byte>(ring.Data, RecordParserTarget.Capacity).CopyTo(image.AsSpan(16));
        }
        return image;
    }
}
