using System.Diagnostics;
using System.Runtime.InteropServices;
using Membrane.Segments;

namespace Membrane.Cli.Bench;

/// <summary>
/// The floor under every shared-memory transport on this machine, measured in the same run: one mailbox each way in
/// a shared segment (a published count, a consumed count on its own cache line, then the message), spun on, with no
/// validation, batching or parking. What a ring costs above it is the ring's own work; the rest is the hardware's.
/// </summary>
internal sealed class FloorLink(SharedSegment segment, int outgoing, int incoming, int size) : IBenchLink
{
    private const int ConsumedOffset = 64;
    private const int DataOffset = 128;
    private static readonly long s_limitTicks = 30 * Stopwatch.Frequency;
    private long _sent;
    private long _received;

    /// <summary>Bytes of payload two mailboxes of <paramref name="size"/>-byte messages take.</summary>
    internal static long PayloadSize(int size) => 2 * MailboxSize(size);

    /// <summary>Where the second mailbox starts.</summary>
    internal static int MailboxSize(int size) => DataOffset + ((size + 63) & ~63);

    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true)
    {
        Span<byte> mailbox = segment.Payload.Slice(outgoing, MailboxSize(size));
        SpinUntil(ref Field(mailbox, ConsumedOffset), _sent); // the previous message was taken
        message.CopyTo(mailbox[DataOffset..]);
        Volatile.Write(ref Field(mailbox, 0), ++_sent);
    }

    public int Receive(Span<byte> buffer)
    {
        Span<byte> mailbox = segment.Payload.Slice(incoming, MailboxSize(size));
        SpinUntil(ref Field(mailbox, 0), _received + 1);
        mailbox.Slice(DataOffset, size).CopyTo(buffer);
        Volatile.Write(ref Field(mailbox, ConsumedOffset), ++_received);
        return size;
    }

    public void Dispose() => segment.Dispose();

    private static ref long Field(Span<byte> mailbox, int offset) => ref MemoryMarshal.AsRef<long>(mailbox[offset..]);

    private static void SpinUntil(ref long counter, long value)
    {
        long start = Stopwatch.GetTimestamp();
        for (int spins = 0; Volatile.Read(ref counter) != value; spins++)
        {
            if ((spins & 0xFFFF) == 0xFFFF && Stopwatch.GetTimestamp() - start > s_limitTicks)
            {
                throw new TimeoutException("the floor's peer did not answer for 30 s");
            }
        }
    }
}
