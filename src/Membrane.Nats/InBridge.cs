using Membrane.Diagnostics;
using Membrane.Journals;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Membrane.Nats;

/// <summary>
/// Consumes a JetStream stream an <see cref="OutBridge"/> fills, through a durable consumer, and appends each entry to a
/// far journal under the sequence it had in the near one (a gap marker becomes a gap of the same sequences), so that a
/// reporter on the far journal writes what one on the near journal writes.
/// <para>
/// No loss, no duplicate. The far journal is the bridge's record of what it applied: its write position is the next near
/// sequence it needs (it takes one writer, the bridge), so a message at or below what it holds is dropped, and a crash
/// between an append and its acknowledgement costs a redelivery, never a duplicate. A message is acknowledged only after
/// its append (acknowledgements cover every message before them). A message that arrives after a gap in what was
/// delivered (one lost on the wire in a reconnection, to be redelivered later) makes the bridge read the messages it
/// missed from the stream itself, back to what it holds; sequences the stream no longer has (removed by its limits) are
/// appended as lost.
/// </para>
/// </summary>
public sealed class InBridge
{
    private readonly INatsConnection _connection;
    private readonly InBridgeOptions _options;
    private long _entries, _lag, _gaps, _duplicates, _resyncs, _next, _foreign;

    /// <summary>Creates the bridge; <see cref="RunAsync"/> runs it.</summary>
    public InBridge(INatsConnection connection, InBridgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _connection = connection;
        _options = options;
    }

    /// <summary>Progress so far.</summary>
    public BridgeStatus Status => new(Interlocked.Read(ref _entries), Interlocked.Read(ref _lag), Interlocked.Read(ref _gaps),
        Interlocked.Read(ref _duplicates), Interlocked.Read(ref _resyncs), Interlocked.Read(ref _next));

    /// <summary>Messages on the subject that were not a bridge's (no Membrane headers), skipped.</summary>
    public long ForeignMessages => Interlocked.Read(ref _foreign);

    /// <summary>
    /// Carries entries until <paramref name="cancellation"/> is cancelled (then it acknowledges what it appended and
    /// returns), starting again on its own after a server or connection failure.
    /// </summary>
    /// <exception cref="BridgeException">The server cannot be reached at start; the far journal takes many writers, or its slots are too small.</exception>
    /// <exception cref="Errors.SegmentInUseException">Another process writes the far journal.</exception>
    public async Task RunAsync(CancellationToken cancellation)
    {
        using Journal journal = Journal.OpenOrCreate(_options.Journal, _options.NewJournal);
        if (journal.Writers != JournalWriters.One)
        {
            throw new BridgeException("An in bridge keeps the near journal's sequences, so it must be its journal's only writer.", journal.Name,
                expected: "a journal with one writer", found: "a journal with many writers");
        }
        using JournalWriter writer = journal.CreateWriter();
        Interlocked.Exchange(ref _next, writer.NextSequence);
        var js = new NatsJSContext(_connection);
        if (await BridgeStream.StartAsync(_connection, js, _options.Journal, _options.Stream, _options.ResolvedSubject, cancellation).ConfigureAwait(false) is not { } stream)
        {
            return; // stopped before it began
        }
        var run = new Run(this, journal, writer, stream);
        var consumerConfig = new ConsumerConfig(_options.ResolvedConsumer)
        {
            AckPolicy = ConsumerConfigAckPolicy.All,
            DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            FilterSubject = stream.Subject,
            MaxAckPending = 16_384,
            AckWait = _options.AckWait,
        };
        await BridgeStream.RepeatAsync(async stop =>
        {
            INatsJSConsumer consumer = await js.CreateOrUpdateConsumerAsync(_options.Stream, consumerConfig, stop).ConfigureAwait(false);
            await run.ConsumeAsync(consumer, stop).ConfigureAwait(false);
        }, _options.RetryDelay, () => Interlocked.Increment(ref _resyncs), cancellation).ConfigureAwait(false);
    }

    /// <summary>The bridge's consumption: apply in order, fill what was skipped from the stream, acknowledge.</summary>
    private sealed class Run(InBridge bridge, Journal journal, JournalWriter writer, BridgeStream stream)
    {
        private INatsJSMsg<byte[]>? _unacknowledged;
        private int _sinceAck;

        internal async Task ConsumeAsync(INatsJSConsumer consumer, CancellationToken cancellation)
        {
            try
            {
                // Short pulls and heartbeats: a pull the server forgot in a restart is noticed within seconds (by default, 30).
                var options = new NatsJSConsumeOpts { MaxMsgs = 1000, Expires = TimeSpan.FromSeconds(4), IdleHeartbeat = TimeSpan.FromSeconds(1) };
                await foreach (INatsJSMsg<byte[]> message in consumer.ConsumeAsync<byte[]>(opts: options, cancellationToken: cancellation).ConfigureAwait(false))
                {
                    await ApplyAsync(message, cancellation).ConfigureAwait(false);
                    _unacknowledged = message;
                    ulong pending = message.Metadata?.NumPending ?? 0;
                    Interlocked.Exchange(ref bridge._lag, (long)pending);
                    if (++_sinceAck >= bridge._options.AckEvery || pending == 0)
                    {
                        await AcknowledgeAsync().ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
            }
            finally
            {
                if (cancellation.IsCancellationRequested)
                {
                    await AcknowledgeAsync().ConfigureAwait(false); // a clean stop leaves nothing to redeliver
                }
            }
        }

        private async Task AcknowledgeAsync()
        {
            if (_unacknowledged is { } message)
            {
                _unacknowledged = null;
                _sinceAck = 0;
                try
                {
                    await message.AckAsync().ConfigureAwait(false);
                }
                catch (NatsException)
                {
                    // Not acknowledged: redelivered later and dropped then, as at or below what the far journal holds.
                }
            }
        }

        private async Task ApplyAsync(INatsJSMsg<byte[]> delivered, CancellationToken cancellation)
        {
            if (BridgeMessage.From(delivered.Headers) is not { } message)
            {
                Interlocked.Increment(ref bridge._foreign);
                return;
            }
            if (message.Sequence > writer.NextSequence && delivered.Metadata is { } metadata)
            {
                await FillFromStreamAsync(metadata.Sequence.Stream, cancellation).ConfigureAwait(false);
            }
            Append(message, delivered.Data ?? []);
        }

        /// <summary>
        /// A message came after a gap in what was delivered: reads the stream backwards from just before it, down to what
        /// the far journal holds, and appends what it finds in order; what the stream no longer has is a gap of lost sequences.
        /// </summary>
        private async Task FillFromStreamAsync(ulong before, CancellationToken cancellation)
        {
            var missed = new Stack<(BridgeMessage Message, ReadOnlyMemory<byte> Data)>();
            for (ulong at = before - 1; at >= 1; at--)
            {
                (BridgeMessage? found, ReadOnlyMemory<byte> data, bool exists) = await stream.AtAsync(at, cancellation).ConfigureAwait(false);
                if (!exists)
                {
                    break; // removed from the stream: what lies before is gone
                }
                if (found is not { } message)
                {
                    continue; // another subject's, or foreign
                }
                if (message.End <= writer.NextSequence)
                {
                    break;
                }
                missed.Push((message, data));
                if (message.Sequence <= writer.NextSequence)
                {
                    break;
                }
            }
            while (missed.TryPop(out var entry))
            {
                Append(entry.Message, entry.Data.Span);
            }
        }

        /// <summary>Appends a message under its own sequences; what lies between the far journal's end and it, unaccounted for, is lost.</summary>
        private void Append(BridgeMessage message, ReadOnlySpan<byte> data)
        {
            long next = writer.NextSequence;
            if (message.End <= next)
            {
                Interlocked.Increment(ref bridge._duplicates);
                return;
            }
            if (message.Sequence > next)
            {
                Interlocked.Add(ref bridge._gaps, message.Sequence - next);
                writer.AppendGap(message.Sequence - next, JournalGap.Lost);
                next = message.Sequence;
            }
            if (message.IsGap)
            {
                // A marker may overlap what an earlier marker of the same loss already appended: only its rest is new.
                long rest = message.End - next;
                long aborted = Math.Min(message.Aborted, rest);
                writer.AppendGap(rest - aborted, JournalGap.Lost);
                writer.AppendGap(aborted, JournalGap.Aborted);
                Interlocked.Add(ref bridge._gaps, rest);
            }
            else
            {
                if (data.Length > journal.SlotSize)
                {
                    throw new BridgeException("An entry from the stream does not fit the far journal's slots.", journal.Name,
                        expected: $"entries of at most {journal.SlotSize} bytes", found: $"entry {message.Sequence} of {data.Length} bytes");
                }
                writer.Append(data);
                Interlocked.Increment(ref bridge._entries);
            }
            Interlocked.Exchange(ref bridge._next, writer.NextSequence);
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.BridgeInAfterAppend);
            }
        }
    }
}
