using Membrane.Journals;

namespace Membrane.Nats;

/// <summary>What an <see cref="InBridge"/> carries, and how.</summary>
public sealed record InBridgeOptions
{
    /// <summary>The JetStream stream to consume (created with file storage if missing).</summary>
    public required string Stream { get; init; }

    /// <summary>The subject the out bridge publishes on; <c>membrane.STREAM</c> by default.</summary>
    public string? Subject { get; init; }

    /// <summary>The far journal to append to: opened, or created with <see cref="NewJournal"/>. It must take one writer.</summary>
    public required string Journal { get; init; }

    /// <summary>The options a missing far journal is created with (the default journal's when null). Its slots must hold the near journal's entries.</summary>
    public JournalOptions? NewJournal { get; init; }

    /// <summary>The durable consumer's name; <c>membrane-in-JOURNAL</c> by default (characters other than letters, digits, '_' and '-' as '_').</summary>
    public string? Consumer { get; init; }

    /// <summary>Messages appended between two acknowledgements (each acknowledges every message before it; 256 by default). The last of a burst is always acknowledged.</summary>
    public int AckEvery { get; init; } = 256;

    /// <summary>
    /// How long the server waits for an acknowledgement before it delivers a message again (30 s by default): what a
    /// killed in bridge's successor waits, at most, for the messages its predecessor had received and not acknowledged,
    /// unless it acknowledges later ones first (which covers them).
    /// </summary>
    public TimeSpan AckWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait before starting again after the server or the connection failed (1 s by default).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    internal string ResolvedSubject => Subject ?? BridgeStream.DefaultSubject(Stream);

    internal string ResolvedConsumer => Consumer ?? "membrane-in-" + string.Concat(Journal.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_'));

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Journal);
        BridgeStream.Validate(Stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(AckEvery, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(AckWait, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryDelay, TimeSpan.Zero);
    }
}
