using System.Runtime.CompilerServices;
using Membrane.Journals;
using Membrane.Rings;

namespace Membrane.Cli.Bench;

/// <summary>
/// A link whose waits are asynchronous: the latency scenario awaits it (<see cref="Scenarios.LatencyAsync"/>), so that a
/// parked read frees its thread and is woken through the process's futex reactor and the thread pool, as in a service.
/// </summary>
internal interface IAsyncBenchLink : IBenchLink
{
    ValueTask SendAsync(ReadOnlyMemory<byte> message);

    ValueTask<int> ReceiveAsync(Memory<byte> buffer);
}

/// <summary>
/// A pair of rings, as <see cref="RingBenchLink"/> parked (no spin), with every wait awaited. Latency only: its
/// synchronous <see cref="Send"/> and <see cref="Receive"/> are what <c>ring-parked</c> measures.
/// </summary>
internal sealed class AsyncRingBenchLink : IAsyncBenchLink
{
    private readonly RingChannel _channel;

    internal AsyncRingBenchLink(RingChannel channel)
    {
        _channel = channel;
        channel.Outgoing.PartSize = RingBenchLink.PartSize; // large messages in parts, as ring-parked sends them
        channel.Outgoing.SpinBeforeParking = TimeSpan.Zero;
        channel.Incoming.SpinBeforeParking = TimeSpan.Zero;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> message) => _channel.Outgoing.WriteAsync(message);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _channel.Incoming.ReadAsync(buffer);

    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true) => throw new NotSupportedException("an async link is measured through SendAsync");

    public int Receive(Span<byte> buffer) => throw new NotSupportedException("an async link is measured through ReceiveAsync");

    public void Dispose() => _channel.Dispose();
}

/// <summary>Two journals, as <see cref="JournalBenchLink"/> with its reader parked (no spin), every read awaited.</summary>
internal sealed class AsyncJournalBenchLink : IAsyncBenchLink
{
    private readonly Journal _outgoing;
    private readonly Journal _incoming;
    private readonly JournalWriter _writer;
    private readonly JournalReader _reader;

    internal AsyncJournalBenchLink(Journal outgoing, Journal incoming)
    {
        _outgoing = outgoing;
        _incoming = incoming;
        _writer = outgoing.CreateWriter(TimeSpan.FromSeconds(30));
        _reader = incoming.OpenReader(0, StartPosition.Oldest);
        _reader.SpinBeforeParking = TimeSpan.Zero;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> message)
    {
        _writer.Append(message.Span);
        return ValueTask.CompletedTask;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        JournalRecord record = await _reader.ReadAsync(buffer).ConfigureAwait(false);
        _reader.Commit(); // a round trip has one entry in flight: commit each, or a Block writer would wait for it
        return record.LostBefore == 0 ? record.Length : throw new InvalidOperationException($"the journal lost {record.LostBefore} entries");
    }

    public void Send(ReadOnlySpan<byte> message, bool endOfBurst = true) => throw new NotSupportedException("an async link is measured through SendAsync");

    public int Receive(Span<byte> buffer) => throw new NotSupportedException("an async link is measured through ReceiveAsync");

    public void Dispose()
    {
        _writer.Dispose();
        _reader.Dispose();
        _outgoing.Dispose();
        _incoming.Dispose();
    }
}
