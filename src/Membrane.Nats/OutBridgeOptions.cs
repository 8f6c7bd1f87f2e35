namespace Membrane.Nats;

/// <summary>What an <see cref="OutBridge"/> carries, and how.</summary>
public sealed record OutBridgeOptions
{
    /// <summary>The local journal to follow (it must exist).</summary>
    public required string Journal { get; init; }

    /// <summary>The JetStream stream to publish to (created with file storage if missing); 1 to 25 letters, digits, '_' or '-'.</summary>
    public required string Stream { get; init; }

    /// <summary>The subject to publish on; <c>membrane.STREAM</c> by default.</summary>
    public string? Subject { get; init; }

    /// <summary>Publications awaiting the server's acknowledgement at most (1024 by default).</summary>
    public int MaxInFlight { get; init; } = 1024;

    /// <summary>How long to wait before starting again after the server or the connection failed (1 s by default).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    internal string ResolvedSubject => Subject ?? BridgeStream.DefaultSubject(Stream);

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Journal);
        BridgeStream.Validate(Stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryDelay, TimeSpan.Zero);
    }
}
