using Membrane.Diagnostics;
using Membrane.Journals;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Membrane.Nats;

/// <summary>
/// Follows a local journal through its own cursor (<c>bridge:STREAM</c>) and publishes every entry to a JetStream
/// stream; a loss or a skipped hole of the near reader travels as a gap marker. Entries are published in order, many
/// awaiting acknowledgement at once, and the cursor is committed only up to what the server acknowledged.
/// <para>
/// No loss, no duplicate, no reordering. Each message carries the id <c>journal:sequence</c>, so the server drops a
/// duplicate within its duplicate window, and expects the previous message's id as the stream's last
/// (<c>Nats-Expected-Last-Msg-Id</c>), so that a message whose predecessor did not arrive is refused rather than stored
/// out of order. Whenever anything fails — the connection, the server, a refusal — the bridge waits for what is in
/// flight, reads the stream's last message back, and starts again right after it (its first message alone, then
/// pipelined again); a restarted bridge does the same. So the stream holds each sequence once, in order.
/// </para>
/// </summary>
public sealed class OutBridge
{
    private readonly INatsConnection _connection;
    private readonly OutBridgeOptions _options;
    private long _entries, _lag, _gaps, _duplicates, _resyncs, _next;

    /// <summary>Creates the bridge; <see cref="RunAsync"/> runs it.</summary>
    public OutBridge(INatsConnection connection, OutBridgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _connection = connection;
        _options = options;
    }

    /// <summary>The cursor the bridge follows its journal with: <c>bridge:STREAM</c>.</summary>
    public string CursorName => $"bridge:{_options.Stream}";

    /// <summary>Progress so far.</summary>
    public BridgeStatus Status => new(Interlocked.Read(ref _entries), Interlocked.Read(ref _lag), Interlocked.Read(ref _gaps),
        Interlocked.Read(ref _duplicates), Interlocked.Read(ref _resyncs), Interlocked.Read(ref _next));

    /// <summary>
    /// Carries entries until <paramref name="cancellation"/> is cancelled (then it settles what is in flight, commits, and
    /// returns), starting again on its own after a server or connection failure.
    /// </summary>
    /// <exception cref="BridgeException">The server cannot be reached at start, or the stream holds another journal's entries or more than the journal has.</exception>
    public async Task RunAsync(CancellationToken cancellation)
    {
        using Journal journal = Journal.Open(_options.Journal);
        using JournalReader reader = journal.OpenReader(CursorName, StartPosition.Oldest);
        var js = new NatsJSContext(_connection);
        if (await BridgeStream.StartAsync(_connection, js, _options.Journal, _options.Stream, _options.ResolvedSubject, cancellation).ConfigureAwait(false) is not { } stream)
        {
            return; // stopped before it began
        }
        var run = new Run(this, journal, reader, js, stream);
        await BridgeStream.RepeatAsync(run.FromStreamTailAsync, _options.RetryDelay, () => Interlocked.Increment(ref _resyncs), cancellation).ConfigureAwait(false);
    }

    /// <summary>One run of the bridge over its journal: the loop that reads, publishes and settles.</summary>
    private sealed class Run(OutBridge bridge, Journal journal, JournalReader reader, NatsJSContext js, BridgeStream stream)
    {
        private readonly Queue<(ValueTask<PubAckResponse> Ack, long End)> _inFlight = new();
        private readonly byte[] _buffer = new byte[journal.SlotSize];
        private readonly string _subject = stream.Subject;
        private string? _lastId;

        /// <summary>Starts after the stream's last message, then carries entries until cancelled or until something fails.</summary>
        internal async Task FromStreamTailAsync(CancellationToken cancellation)
        {
            try
            {
                await ResumeAsync(cancellation).ConfigureAwait(false);
                await CarryAsync(cancellation).ConfigureAwait(false);
            }
            finally
            {
                // Every publication is settled before anything starts again: what was acknowledged is committed, and no
                // acknowledgement is left unobserved.
                await SettleAllAsync().ConfigureAwait(false);
            }
        }

        private async Task ResumeAsync(CancellationToken cancellation)
        {
            BridgeMessage? tail = await stream.LastAsync(cancellation).ConfigureAwait(false);
            long start = reader.CommittedPosition;
            if (tail is { } last)
            {
                if (last.Journal != journal.Name)
                {
                    throw new BridgeException($"The stream '{stream.Name}' carries another journal's entries.", journal.Name,
                        expected: $"entries of journal '{journal.Name}' on {_subject}", found: $"entries of journal '{last.Journal}'");
                }
                if (last.End > journal.WritePosition)
                {
                    throw new BridgeException($"The stream '{stream.Name}' holds more entries than the journal: it carried an earlier journal of this name.",
                        journal.Name, expected: $"sequences up to {journal.WritePosition - 1}", found: $"sequence {last.End - 1} in the stream");
                }
                start = Math.Max(start, last.End);
            }
            reader.Seek(start);
            reader.Commit(start);
            _lastId = null; // the first message goes alone, expecting nothing: the stream may not remember its last id (a restart past the duplicate window)
            Interlocked.Exchange(ref bridge._next, start);
        }

        private async Task CarryAsync(CancellationToken cancellation)
        {
            while (!cancellation.IsCancellationRequested)
            {
                if (_inFlight.Count >= bridge._options.MaxInFlight)
                {
                    await SettleOldestAsync().ConfigureAwait(false);
                    continue;
                }
                JournalRecord record;
                if (!reader.TryRead(_buffer, out record))
                {
                    if (_inFlight.Count > 0)
                    {
                        await SettleOldestAsync().ConfigureAwait(false);
                        continue;
                    }
                    if (await WaitForEntryAsync(cancellation).ConfigureAwait(false) is not { } waited)
                    {
                        continue;
                    }
                    record = waited;
                }
                long skipped = record.LostBefore + record.AbortedBefore;
                if (skipped > 0)
                {
                    await PublishAsync(new BridgeMessage(journal.Name, record.Sequence - skipped, record.LostBefore, record.AbortedBefore), default).ConfigureAwait(false);
                }
                // A copy: the client may serialise the payload after PublishAsync returns (the publication is in flight
                // while the next entry is read into the buffer).
                await PublishAsync(new BridgeMessage(journal.Name, record.Sequence, 0, 0), _buffer.AsSpan(0, record.Length).ToArray()).ConfigureAwait(false);
            }
        }

        /// <summary>Waits up to a second for the next entry (so that a stop is noticed), without a thread.</summary>
        private async Task<JournalRecord?> WaitForEntryAsync(CancellationToken cancellation)
        {
            using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            tick.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                return await reader.ReadAsync(_buffer, tick.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        /// <summary>Publishes one message, pipelined after the one before it; the first after a resume goes alone.</summary>
        private async ValueTask PublishAsync(BridgeMessage message, ReadOnlyMemory<byte> payload)
        {
            string id = message.MessageId;
            var options = new NatsJSPubOpts { MsgId = id, ExpectedLastMsgId = _lastId };
            ValueTask<PubAckResponse> ack = js.PublishAsync(_subject, payload, opts: options, headers: message.ToHeaders());
            _inFlight.Enqueue((ack, message.End));
            if (message.IsGap)
            {
                Interlocked.Add(ref bridge._gaps, message.Lost + message.Aborted);
            }
            if (_lastId is null)
            {
                await SettleOldestAsync().ConfigureAwait(false);
            }
            _lastId = id;
        }

        /// <summary>Awaits the oldest acknowledgement and commits up to it; a refusal or failure ends the run (to resume from the stream).</summary>
        private async ValueTask SettleOldestAsync()
        {
            (ValueTask<PubAckResponse> ack, long end) = _inFlight.Dequeue();
            PubAckResponse response;
            try
            {
                response = await ack.ConfigureAwait(false);
            }
            catch (NatsJSDuplicateMessageException)
            {
                response = new PubAckResponse { Duplicate = true };
            }
            if (response.Error is { } error)
            {
                throw new NatsJSApiException(error);
            }
            if (response.Duplicate)
            {
                Interlocked.Increment(ref bridge._duplicates);
            }
            else
            {
                Interlocked.Increment(ref bridge._entries);
            }
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.BridgeOutAfterAck);
            }
            reader.Commit(end);
            Interlocked.Exchange(ref bridge._next, end);
            Interlocked.Exchange(ref bridge._lag, Math.Max(0, journal.WritePosition - end)); // appended, not yet acknowledged
        }

        private async Task SettleAllAsync()
        {
            while (_inFlight.Count > 0)
            {
                try
                {
                    await SettleOldestAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
                {
                    // Not acknowledged: not committed. The rest is awaited too, and only what the server acknowledged in
                    // order is committed (a later acknowledgement after a failure commits nothing past the failure).
                    while (_inFlight.Count > 0)
                    {
                        try
                        {
                            await _inFlight.Dequeue().Ack.ConfigureAwait(false);
                        }
                        catch (Exception ignored) when (ignored is NatsException or TimeoutException or OperationCanceledException)
                        {
                        }
                    }
                }
            }
        }
    }
}
