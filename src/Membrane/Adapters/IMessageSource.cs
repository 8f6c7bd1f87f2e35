namespace Membrane.Adapters;

/// <summary>
/// The consuming end of a stream of messages in shared memory (a ring's consumer, a queue's consumer) as the Channels
/// and Pipelines adapters use it: one message lent in place at a time, released in batches.
/// </summary>
internal interface IMessageSource : IDisposable
{
    /// <summary>What the adapters' messages call it: "Ring 'name'", "Queue 'name'".</summary>
    string Description { get; }

    /// <summary>The segment's name, for exceptions.</summary>
    string SegmentName { get; }

    /// <summary>Lends the next message in place, valid until <see cref="Release"/>; false if there is none now.</summary>
    bool TryLend(out ReadOnlySpan<byte> message);

    /// <summary>Releases the lent message; its room goes back at the next publication unless <paramref name="publish"/>.</summary>
    void Release(bool publish);

    /// <summary>
    /// Waits without a thread until a message may be there (true), or none ever will be (false: the stream ended). A peer
    /// that died makes it throw <see cref="Errors.PeerGoneException"/>.
    /// </summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellation);
}
