using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Membrane.Segments;
using Membrane.Sync;

namespace Membrane.Cli.Bench;

/// <summary>
/// The floor under every shared-memory transport on this machine, measured in the same run: one mailbox each way in
/// a shared segment (a published count, a consumed count on its own cache line, then the message), with no
/// validation or batching. Spun on, it is the floor under the spinning rings. <paramref name="parked"/>, a receiver
/// sleeps on a futex for each message and a sender wakes it after every one, unconditionally (one system call a
/// message each side): the floor under a ring that parks, a kernel wake each way, as for any transport that sleeps in
/// the kernel (the Unix socket too). It measures latency only: a sender never waits for room. What a ring costs
/// above it is the ring's own work; the rest is the hardware's and the kernel's.
/// </summary>
internal sealed class FloorLink(SharedSegment segment, int outgoing, int incoming, int size, bool parked) : IBenchLink
{
    private const int ConsumedOffset = 64;
    private const int DataOffset = 128;
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private static readonly long s_limitTicks = (long)(s_limit.TotalSeconds * Stopwatch.Frequency);
    private long _sent;
    private long _received;

    /// <summary>Bytes of payload two mailboxes of <paramref name="size"/>-byte messages take.</summary>
    internal static long PayloadSize(int size) => 2 * MailboxSize(size);

    /// <summary>Where the second mailbox starts.</summary>
    internal static int MailboxSize(int size) => DataOffset + ((size + 63) & ~63);

    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true)
    {
        Span<byte> mailbox = segment.Payload.Slice(outgoing, MailboxSize(size));
        // The previous message was taken: always so by the time its echo came back, so this is spun on, never parked.
        WaitUntil(ref Field(mailbox, ConsumedOffset), _sent, park: false);
        message.CopyTo(mailbox[DataOffset..]);
        Volatile.Write(ref Field(mailbox, 0), ++_sent);
        if (parked)
        {
            Futex.WakeAll(ref LowHalf(ref Field(mailbox, 0)));
        }
    }

    public int Receive(Span<byte> buffer)
    {
        Span<byte> mailbox = segment.Payload.Slice(incoming, MailboxSize(size));
        WaitUntil(ref Field(mailbox, 0), _received + 1, park: parked);
        mailbox.Slice(DataOffset, size).CopyTo(buffer);
        Volatile.Write(ref Field(mailbox, ConsumedOffset), ++_received);
        return size;
    }

    public void Dispose() => segment.Dispose();

    private static ref long Field(Span<byte> mailbox, int offset) => ref MemoryMarshal.AsRef<long>(mailbox[offset..]);

    /// <summary>The futex word of a count: its low half (little-endian), which changes with every message.</summary>
    private static ref int LowHalf(ref long counter) => ref Unsafe.As<long, int>(ref counter);

    private static void WaitUntil(ref long counter, long value, bool park)
    {
        long start = Stopwatch.GetTimestamp();
        for (int spins = 0; ; spins++)
        {
            long seen = Volatile.Read(ref counter);
            if (seen == value)
            {
                return;
            }
            if (park)
            {
                Futex.Wait(ref LowHalf(ref counter), (int)seen, s_limit);
            }
            if ((park || (spins & 0xFFFF) == 0xFFFF) && Stopwatch.GetTimestamp() - start > s_limitTicks)
            {
                throw new TimeoutException("the floor's peer did not answer for 30 s");
            }
        }
    }
}
