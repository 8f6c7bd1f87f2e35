using System.Runtime.CompilerServices;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Rings;
namespace Membrane.Cli.Bench;

/// <summary>
/// One side of a two-way path between the bench and its peer process: whole messages out, whole messages in. Every
/// transport, Membrane's and the baselines, is measured through this one shape, with the same loops.
/// </summary>
/// <remarks>
/// The loops and every link's Send and Receive are compiled optimised on their first call (AggressiveOptimization), as
/// Membrane's own per-message methods are: left to tiered compilation they ran unoptimised for the first 0.2–0.5 s of a
/// run, while the background compiler waited for a core both processes were spinning on, and a run's figure depended on
/// how much of that the warm-up happened to cover. The price, the same for every transport: no profile-guided inlining
/// of Send and Receive into the loops.
/// </remarks>
internal interface IBenchLink : IDisposable
{
    /// <summary>
    /// Sends one message, waiting for room if the transport is full. With <paramref name="endOfBurst"/> false a
    /// transport that can batch may hold the publication back until the end of the burst (the rings do; streams send
    /// every message with its own write, as a user writing messages would).
    /// </summary>
    void Send(ReadOnlySpan<byte> message, bool endOfBurst = true);

    /// <summary>Receives the next message into <paramref name="buffer"/> and returns its length; throws if none comes within the limit.</summary>
    int Receive(Span<byte> buffer);
}

/// <summary>
/// A pair of rings (a channel): one copy in, one copy out, as a user copying messages would do. Bursts are published
/// once, and released room is returned once a burst's worth of messages is read (and whenever this side is about to
/// wait). Messages over <see cref="PartSize"/> go in parts (<see cref="RingProducer.PartSize"/>) and are read with the
/// copying read that takes parts, as a user moving large messages would.
/// </summary>
internal sealed class RingBenchLink : IBenchLink
{
    /// <summary>The part size of every ring the bench uses: 1 MiB messages go in 16 parts.</summary>
    internal const int PartSize = 64 * 1024;

    private const int ReleaseBatch = Scenarios.BurstLength;
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private readonly RingChannel _channel;
    private long _received;

    internal RingBenchLink(RingChannel channel)
    {
        _channel = channel;
        channel.Outgoing.PartSize = PartSize;
    }

    /// <summary>Sets how both ends wait: <paramref name="spin"/> before parking (zero: park at once).</summary>
    internal RingBenchLink Waiting(TimeSpan spin)
    {
        _channel.Outgoing.SpinBeforeParking = spin;
        _channel.Incoming.SpinBeforeParking = spin;
        return this;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true)
    {
        RingProducer outgoing = _channel.Outgoing;
        if (message.Length > PartSize)
        {
            outgoing.Write(message);
            return;
        }
        if (!outgoing.TryReserve(message.Length, s_limit, CancellationToken.None, out Span<byte> room))
        {
            throw new TimeoutException("the ring stayed full for 30 s");
        }
        message.CopyTo(room);
        outgoing.Commit(message.Length, publish: endOfBurst);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public int Receive(Span<byte> buffer)
    {
        if (buffer.Length > PartSize)
        {
            // The buffer is the scenario's message size: messages this large come in parts.
            return _channel.Incoming.TryRead(buffer, s_limit, CancellationToken.None, out int whole) ? whole : throw new TimeoutException("no message for 30 s");
        }
        if (!_channel.Incoming.TryRead(s_limit, CancellationToken.None, out RingLease lease))
        {
            throw new TimeoutException("no message for 30 s");
        }
        int length = lease.Message.Length;
        lease.Message.CopyTo(buffer);
        lease.Release(publish: ++_received % ReleaseBatch == 0);
        return length;
    }

    public void Dispose() => _channel.Dispose();
}

/// <summary>Two journals, one each way (a journal has one writer and readers; a reply needs a second one).</summary>
internal sealed class JournalBenchLink : IBenchLink
{
    private readonly Journal _outgoing;
    private readonly Journal _incoming;
    private readonly JournalWriter _writer;
    private readonly CommittingReader _reader;

    /// <summary>Journals created with <see cref="OverrunPolicy.Block"/>: the writer waits for the reader rather than lapping it.</summary>
    internal JournalBenchLink(Journal outgoing, Journal incoming)
    {
        _outgoing = outgoing;
        _incoming = incoming;
        _writer = outgoing.CreateWriter(CommittingReader.Limit);
        _reader = new CommittingReader(incoming);
    }

    /// <summary>Whether the reader parks at once (no spin) when no entry is there.</summary>
    internal bool Parked
    {
        init => _reader.Parked = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true) => _writer.Append(message);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public int Receive(Span<byte> buffer) => _reader.Receive(buffer);

    public void Dispose()
    {
        _writer.Dispose();
        _reader.Dispose();
        _outgoing.Dispose();
        _incoming.Dispose();
    }
}

/// <summary>
/// The bench's reader of a Block journal (cursor 0, from the oldest entry): every entry waited for at most
/// <see cref="Limit"/>, the cursor committed every quarter of the ring (a Block writer waits for committed positions, not
/// read ones), and a run that lost or skipped an entry failed.
/// </summary>
internal sealed class CommittingReader(Journal journal) : IDisposable
{
    internal static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly JournalReader _reader = journal.OpenReader(0, StartPosition.Oldest);
    private readonly long _commitEvery = Math.Max(1, journal.Capacity / 4);
    private long _received;

    /// <summary>Whether the reader parks at once (no spin) when no entry is there.</summary>
    internal bool Parked
    {
        set => _reader.SpinBeforeParking = value ? TimeSpan.Zero : _reader.SpinBeforeParking;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal int Receive(Span<byte> buffer)
    {
        if (!_reader.TryRead(buffer, Limit, CancellationToken.None, out JournalRecord record))
        {
            throw new TimeoutException("no entry for 30 s");
        }
        if (++_received % _commitEvery == 0)
        {
            _reader.Commit();
        }
        return (record.LostBefore | record.AbortedBefore) == 0 ? record.Length
            : throw new InvalidOperationException($"the journal lost {record.LostBefore} and aborted {record.AbortedBefore} entries");
    }

    public void Dispose() => _reader.Dispose();
}

/// <summary>A byte stream (Unix socket, TCP, pipes) carrying messages of the scenario's fixed size, as a user would frame them.</summary>
internal sealed class StreamBenchLink(Stream outgoing, Stream incoming, int messageSize, params IDisposable[] owners) : IBenchLink
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true) => outgoing.Write(message);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public int Receive(Span<byte> buffer)
    {
        incoming.ReadExactly(buffer[..messageSize]);
        return messageSize;
    }

    public void Dispose()
    {
        outgoing.Dispose();
        incoming.Dispose();
        foreach (IDisposable owner in owners)
        {
            owner.Dispose();
        }
    }
}

/// <summary>Two queues, one each way: the bench's producer of one and consumer of the other (a round trip's two legs).</summary>
internal sealed class QueueBenchLink : IBenchLink
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private readonly SharedQueue _outgoing;
    private readonly SharedQueue _incoming;
    private readonly QueueProducer _producer;
    private readonly QueueConsumer _consumer;

    internal QueueBenchLink(SharedQueue outgoing, SharedQueue incoming)
    {
        _outgoing = outgoing;
        _incoming = incoming;
        _producer = outgoing.CreateProducer();
        _consumer = incoming.CreateConsumer();
        _producer.SpinBeforeParking = _consumer.SpinBeforeParking = TimeSpan.FromSeconds(1); // spinning, as the ring's row
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true)
    {
        if (!_producer.TryWrite(message, s_limit))
        {
            throw new TimeoutException("the queue stayed full for 30 s");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    public int Receive(Span<byte> buffer) =>
        _consumer.TryRead(buffer, s_limit, CancellationToken.None, out int length) ? length : throw new TimeoutException("no message for 30 s");

    public void Dispose()
    {
        _producer.Dispose();
        _consumer.Dispose();
        _outgoing.Dispose();
        _incoming.Dispose();
    }
}
