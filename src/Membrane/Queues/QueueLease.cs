using System.Runtime.CompilerServices;
using Membrane.Codegen;

namespace Membrane.Queues;

/// <summary>
/// A message lent in place by <see cref="QueueConsumer"/>: read <see cref="Message"/>, then dispose to release its
/// room (which the consumer zeroes, so that it is free space again). A <c>ref struct</c>, so it cannot outlive the read
/// or cross an <c>await</c>.
/// </summary>
public readonly ref struct QueueLease
{
    private readonly QueueConsumer? _consumer;

    [MethodImpl(HotPath.Inline)]
    internal QueueLease(QueueConsumer consumer, ReadOnlySpan<byte> message)
    {
        _consumer = consumer;
        Message = message;
    }

    /// <summary>The message, in the ring's memory.</summary>
    public ReadOnlySpan<byte> Message { [MethodImpl(HotPath.Inline)] get; }

    /// <summary>
    /// Releases the message (once: a second release throws <see cref="InvalidOperationException"/>); with <paramref name="publish"/> false its room returns to the producer at the next
    /// publication (batching), or once a quarter of the ring or 64 KiB is held back so.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    public void Release(bool publish) => _consumer?.Release(publish);

    /// <summary>
    /// Releases the message and publishes at once, unless it was released already (then it does nothing, as does the
    /// dispose of a lease whose consumer was disposed). Never throws. Dispose a lease before taking the next one: a
    /// lease disposed after its consumer lent the next message releases that message.
    /// </summary>
    [MethodImpl(HotPath.Inline)]
    public void Dispose() => _consumer?.ReleaseIfLeased();
}
