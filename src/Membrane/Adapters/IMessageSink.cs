namespace Membrane.Adapters;

/// <summary>The producing end of a stream of messages in shared memory (a ring's producer, a queue's) as the Channels adapter uses it.</summary>
internal interface IMessageSink : IDisposable
{
    /// <summary>What the adapters' messages call it: "Ring 'name'", "Queue 'name'".</summary>
    string Description { get; }

    /// <summary>Copies <paramref name="message"/> in and makes it visible, without waiting; false when there is no room.</summary>
    bool TryWrite(ReadOnlySpan<byte> message);

    /// <summary>
    /// Waits without a thread until a message of <paramref name="length"/> bytes fits (true), or the consumer closed its
    /// end (false: nothing more will be read). A consumer that died makes it throw <see cref="Errors.PeerGoneException"/>.
    /// </summary>
    ValueTask<bool> WaitToWriteAsync(int length, CancellationToken cancellation);
}
