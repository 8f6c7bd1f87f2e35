using System.Text;
using Membrane.Errors;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Membrane.Nats;

/// <summary>The JetStream stream a bridge carries a journal through: found or created, and read back by sequence.</summary>
internal sealed class BridgeStream
{
    /// <summary>The JetStream error code for "stream not found".</summary>
    private const int StreamNotFound = 10059;

    /// <summary>The JetStream error code for "no message found".</summary>
    private const int NoMessageFound = 10037;

    private readonly INatsJSStream _stream;

    private BridgeStream(INatsJSStream stream, string subject)
    {
        _stream = stream;
        Subject = subject;
    }

    internal string Subject { get; }

    internal string Name => _stream.Info.Config.Name ?? "";

    /// <summary>Checks a stream name: one a cursor name (<c>bridge:NAME</c>, 32 bytes) and a NATS subject can carry.</summary>
    internal static void Validate(string stream)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        if (stream.Length > 25 || !stream.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException($"A bridge's stream name is 1 to 25 ASCII letters, digits, '_' or '-', not '{stream}'.", nameof(stream));
        }
    }

    /// <summary>The subject a stream's bridge messages travel on when none is given: <c>membrane.STREAM</c>.</summary>
    internal static string DefaultSubject(string stream) => $"membrane.{stream}";

    /// <summary>
    /// A bridge's start: connects, then finds or creates the stream; null if <paramref name="cancellation"/> stopped it
    /// first. An unreachable server, or one that refuses the stream, is a <see cref="BridgeException"/> naming the journal.
    /// </summary>
    internal static async Task<BridgeStream?> StartAsync(INatsConnection connection, INatsJSContext js, string journal, string stream, string subject,
        CancellationToken cancellation)
    {
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            return await OpenOrCreateAsync(js, stream, subject, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            return null;
        }
        catch (NatsException e)
        {
            throw new BridgeException($"The NATS server at {connection.Opts.Url} could not be reached, or refused the stream: {e.Message}", journal,
                expected: $"a JetStream server taking stream '{stream}'", found: e.GetType().Name, e);
        }
    }

    /// <summary>
    /// Runs <paramref name="pass"/> again and again until <paramref name="cancellation"/>: after a failure of the server or
    /// the connection (anything but a Membrane error, which ends the bridge) it counts a resync, waits
    /// <paramref name="retryDelay"/>, and starts the next pass, which begins from what the other side holds.
    /// </summary>
    internal static async Task RepeatAsync(Func<CancellationToken, Task> pass, TimeSpan retryDelay, Action resynced, CancellationToken cancellation)
    {
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                await pass(cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not MembraneException && !cancellation.IsCancellationRequested)
            {
                resynced();
                await Task.Delay(retryDelay, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Finds the stream, or creates it (file storage) on <paramref name="subject"/>.</summary>
    internal static async Task<BridgeStream> OpenOrCreateAsync(INatsJSContext js, string stream, string subject, CancellationToken cancellation)
    {
        INatsJSStream found;
        try
        {
            found = await js.GetStreamAsync(stream, cancellationToken: cancellation).ConfigureAwait(false);
        }
        catch (NatsJSApiException e) when (e.Error.ErrCode == StreamNotFound)
        {
            found = await js.CreateStreamAsync(new StreamConfig(stream, [subject]) { Storage = StreamConfigStorage.File }, cancellation).ConfigureAwait(false);
        }
        ICollection<string> subjects = found.Info.Config.Subjects ?? [];
        if (!subjects.Any(s => Covers(s, subject)))
        {
            throw new BridgeException($"The JetStream stream '{stream}' does not take the bridge's subject.", expected: $"a stream on {subject}",
                found: $"subjects {string.Join(", ", subjects)}");
        }
        return new BridgeStream(found, subject);
    }

    /// <summary>The last bridge message on the subject, or null when the stream holds none.</summary>
    internal async Task<BridgeMessage?> LastAsync(CancellationToken cancellation)
    {
        StoredMessage? last = await GetAsync(new StreamMsgGetRequest { LastBySubj = Subject }, cancellation).ConfigureAwait(false);
        return last is null ? null : Read(last);
    }

    /// <summary>The message stored at stream sequence <paramref name="sequence"/> if it is on the subject, else null (<c>Exists</c> says whether there is one at all).</summary>
    internal async Task<(BridgeMessage? Message, ReadOnlyMemory<byte> Data, bool Exists)> AtAsync(ulong sequence, CancellationToken cancellation)
    {
        StoredMessage? stored = await GetAsync(new StreamMsgGetRequest { Seq = sequence }, cancellation).ConfigureAwait(false);
        if (stored is null)
        {
            return (null, default, false);
        }
        return stored.Subject == Subject ? (Read(stored), stored.Data, true) : (null, default, true);
    }

    private async Task<StoredMessage?> GetAsync(StreamMsgGetRequest request, CancellationToken cancellation)
    {
        try
        {
            return (await _stream.GetAsync(request, cancellation).ConfigureAwait(false)).Message;
        }
        catch (NatsJSApiException e) when (e.Error.ErrCode == NoMessageFound)
        {
            return null;
        }
    }

    private static BridgeMessage? Read(StoredMessage stored)
    {
        if (string.IsNullOrEmpty(stored.Hdrs))
        {
            return null;
        }
        try
        {
            return BridgeMessage.FromRaw(Encoding.UTF8.GetString(Convert.FromBase64String(stored.Hdrs)));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Whether a stream subject (perhaps with wildcards) takes <paramref name="subject"/>.</summary>
    private static bool Covers(string pattern, string subject)
    {
        string[] want = pattern.Split('.');
        string[] have = subject.Split('.');
        for (int i = 0; i < want.Length; i++)
        {
            if (want[i] == ">")
            {
                return have.Length > i;
            }
            if (i >= have.Length || (want[i] != "*" && want[i] != have[i]))
            {
                return false;
            }
        }
        return want.Length == have.Length;
    }
}
