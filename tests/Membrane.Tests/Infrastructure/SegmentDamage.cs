namespace Membrane.Tests.Infrastructure;

/// <summary>How the tests damage a copy of a real segment: what a stray write, a disk error or a hostile user leaves.</summary>
internal static class SegmentDamage
{
    /// <summary>The span of a segment's file that damage goes into: the common header, the kind's own header, the start of its payload.</summary>
    internal const int Reach = 8192;

    /// <summary>1 to 16 random bytes in the first <see cref="Reach"/> bytes; one copy in five also cut to a random length.</summary>
    internal static byte[] Damage(byte[] image, Random random)
    {
        byte[] copy = (byte[])image.Clone();
        for (int changes = random.Next(1, 17); changes > 0; changes--)
        {
            copy[random.Next(Math.Min(Reach, copy.Length))] = (byte)random.Next(256);
        }
        return random.Next(5) == 0 ? copy[..random.Next(copy.Length)] : copy;
    }
}
