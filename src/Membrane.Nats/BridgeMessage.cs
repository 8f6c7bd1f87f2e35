using System.Globalization;
using NATS.Client.Core;

namespace Membrane.Nats;

/// <summary>
/// What a bridge message says, from its headers: the journal it came from, the first sequence it stands for, and, for a
/// gap marker, how many sequences the near side's reader lost and skipped as aborted there (an entry stands for one).
/// </summary>
/// <param name="Journal">The near journal's name (<c>Membrane-Journal</c>).</param>
/// <param name="Sequence">The entry's sequence, or a gap's first (<c>Membrane-Sequence</c>).</param>
/// <param name="Lost">A gap marker's lost sequences (<c>Membrane-Lost</c>); 0 for an entry.</param>
/// <param name="Aborted">A gap marker's aborted sequences (<c>Membrane-Aborted</c>); 0 for an entry.</param>
public readonly record struct BridgeMessage(string Journal, long Sequence, long Lost, long Aborted)
{
    /// <summary>The header naming the near journal.</summary>
    public const string JournalHeader = "Membrane-Journal";

    /// <summary>The header carrying the near journal's sequence.</summary>
    public const string SequenceHeader = "Membrane-Sequence";

    /// <summary>A gap marker's header: sequences the near side's reader lost.</summary>
    public const string LostHeader = "Membrane-Lost";

    /// <summary>A gap marker's header: sequences the near side skipped as aborted (holes of dead writers).</summary>
    public const string AbortedHeader = "Membrane-Aborted";

    /// <summary>Whether this is a gap marker rather than an entry.</summary>
    public bool IsGap => Lost + Aborted > 0;

    /// <summary>The sequence after the last this message stands for.</summary>
    public long End => IsGap ? Sequence + Lost + Aborted : Sequence + 1;

    /// <summary>The message id the stream de-duplicates by: <c>journal:sequence</c> for an entry, <c>journal:first-last</c> for a gap.</summary>
    public string MessageId => IsGap
        ? string.Create(CultureInfo.InvariantCulture, $"{Journal}:{Sequence}-{End - 1}")
        : string.Create(CultureInfo.InvariantCulture, $"{Journal}:{Sequence}");

    /// <summary>The headers that carry this message.</summary>
    public NatsHeaders ToHeaders()
    {
        var headers = new NatsHeaders
        {
            [JournalHeader] = Journal,
            [SequenceHeader] = Sequence.ToString(CultureInfo.InvariantCulture),
        };
        if (Lost > 0)
        {
            headers[LostHeader] = Lost.ToString(CultureInfo.InvariantCulture);
        }
        if (Aborted > 0)
        {
            headers[AbortedHeader] = Aborted.ToString(CultureInfo.InvariantCulture);
        }
        return headers;
    }

    /// <summary>Reads a delivered message's headers; null when they are not a bridge's (a foreign message on the subject).</summary>
    public static BridgeMessage? From(NatsHeaders? headers)
    {
        if (headers is null)
        {
            return null;
        }
        string? Header(string name) => headers.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;
        return Parse(Header(JournalHeader), Header(SequenceHeader), Header(LostHeader), Header(AbortedHeader));
    }

    /// <summary>Reads a stored message's raw header block (<c>NATS/1.0</c> then <c>Name: value</c> lines); null when not a bridge's.</summary>
    public static BridgeMessage? FromRaw(ReadOnlySpan<char> block)
    {
        string? journal = null, sequence = null, lost = null, aborted = null;
        foreach (Range range in block.Split('\n'))
        {
            ReadOnlySpan<char> line = block[range].TrimEnd('\r');
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string value = line[(colon + 1)..].Trim().ToString();
            switch (line[..colon].Trim())
            {
                case JournalHeader: journal = value; break;
                case SequenceHeader: sequence = value; break;
                case LostHeader: lost = value; break;
                case AbortedHeader: aborted = value; break;
            }
        }
        return Parse(journal, sequence, lost, aborted);
    }

    private static BridgeMessage? Parse(string? journal, string? sequence, string? lost, string? aborted)
    {
        static bool Count(string? text, out long value)
        {
            value = 0;
            return text is null || (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 0);
        }
        if (string.IsNullOrEmpty(journal) || sequence is null
            || !long.TryParse(sequence, NumberStyles.None, CultureInfo.InvariantCulture, out long first)
            || !Count(lost, out long lostCount) || !Count(aborted, out long abortedCount)
            || lostCount > long.MaxValue / 4 || abortedCount > long.MaxValue / 4 || first > long.MaxValue / 2)
        {
            return null;
        }
        return new BridgeMessage(journal, first, lostCount, abortedCount);
    }
}
