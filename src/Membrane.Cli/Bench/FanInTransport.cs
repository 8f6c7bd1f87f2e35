using System.Globalization;
using System.Net.Sockets;
using System.Numerics;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Segments;

namespace Membrane.Cli.Bench;

/// <summary>
/// Throughput from <see cref="Producers"/> producer processes into one consumer, the bench (see <see cref="FanInScenario"/>):
/// a queue with that many producers, a journal with that many writers, a Unix-socket server with that many clients
/// (the baseline of the others). Its rows are named <c>KIND×N</c>.
/// </summary>
internal abstract class FanInTransport(int producers) : BenchTransport
{
    /// <summary>The kinds, by the name <c>--transports</c> selects them with (the same as their pair transports').</summary>
    internal static IReadOnlyList<string> Kinds { get; } = [QueueFanIn.KindName, JournalFanIn.KindName, UnixFanIn.KindName];

    internal int Producers => producers;

    internal abstract string Kind { get; }

    internal override string Name => string.Create(CultureInfo.InvariantCulture, $"{Kind}×{producers}");

    internal override string Baseline => new UnixFanIn(producers).Name;

    internal override bool Measures(string mode) => mode == BenchResult.ThroughputMode;

    /// <summary>The fan-in transport of <paramref name="kind"/> (one of <see cref="Kinds"/>) for <paramref name="producers"/> producers.</summary>
    internal static FanInTransport Of(string kind, int producers) => kind switch
    {
        QueueFanIn.KindName => new QueueFanIn(producers),
        JournalFanIn.KindName => new JournalFanIn(producers),
        UnixFanIn.KindName => new UnixFanIn(producers),
        _ => throw new ArgumentException($"no fan-in transport '{kind}'"),
    };

    /// <summary>The bench's side, before the producers start: what they join (<see cref="FanInReceiver.Endpoint"/>).</summary>
    internal abstract FanInReceiver Prepare(int size, string scratchDirectory);

    /// <summary>A producer's side.</summary>
    internal abstract IFanInSender Join(IReadOnlyList<string> endpoint, int size);
}

/// <summary>The bench's side of a fan-in: messages received on one or more lanes (threads), each serving its producers.</summary>
internal abstract class FanInReceiver : IDisposable
{
    /// <summary>What a producer needs to join.</summary>
    internal abstract IReadOnlyList<string> Endpoint { get; }

    /// <summary>Receiving threads: one for a queue or a journal, one per connection for a socket server.</summary>
    internal abstract int Lanes { get; }

    /// <summary>Once the producers started: finishes the bench's side (a server accepts its connections).</summary>
    internal virtual void Complete()
    {
    }

    /// <summary>After a run: what went wrong that the messages themselves do not show (no producer dies in a bench run), or null.</summary>
    internal virtual string? Anomaly => null;

    /// <summary>Receives lane <paramref name="lane"/>'s next message into <paramref name="buffer"/>; throws if none comes within 30 s.</summary>
    internal abstract int Receive(int lane, Span<byte> buffer);

    public abstract void Dispose();

    protected static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
}

/// <summary>A producer's side of a fan-in.</summary>
internal interface IFanInSender : IDisposable
{
    /// <summary>Sends one message, waiting for room; with <paramref name="endOfBurst"/> false a batching transport may hold it back.</summary>
    void Send(ReadOnlySpan<byte> message, bool endOfBurst);
}

/// <summary>One queue, N producer processes, the bench its consumer.</summary>
internal sealed class QueueFanIn(int producers) : FanInTransport(producers)
{
    internal const string KindName = "queue";

    internal override string Kind => KindName;

    internal override string Label => string.Create(CultureInfo.InvariantCulture, $"SharedQueue, {Producers} producer process(es) -> 1 consumer, spinning");

    /// <summary>The queue's bytes for messages of <paramref name="size"/>: the room every shared-memory transport gets, for records of that size.</summary>
    internal static long Capacity(int size) => (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(Room(size), 2 * (size + 64L)));

    internal override FanInReceiver Prepare(int size, string scratchDirectory) =>
        new Receiver(SharedQueue.Create(UniqueName("queue"), new QueueOptions { Capacity = Capacity(size), MaxProducers = Producers }));

    internal override IFanInSender Join(IReadOnlyList<string> endpoint, int size) => new Sender(SharedQueue.Open(endpoint[0]));

    private sealed class Receiver : FanInReceiver
    {
        private readonly SharedQueue _queue;
        private readonly QueueConsumer _consumer;

        internal Receiver(SharedQueue queue)
        {
            _queue = queue;
            _consumer = queue.CreateConsumer();
            _consumer.SpinBeforeParking = TimeSpan.FromSeconds(1);
        }

        internal override IReadOnlyList<string> Endpoint => [_queue.Name];

        internal override int Lanes => 1;

        internal override string? Anomaly => _consumer.AbortedClaims == 0 ? null
            : string.Create(CultureInfo.InvariantCulture, $"the consumer skipped {_consumer.AbortedClaims} claims of live producers as aborted");

        internal override int Receive(int lane, Span<byte> buffer)
        {
            if (!_consumer.TryRead(Limit, CancellationToken.None, out QueueLease lease))
            {
                throw new TimeoutException("no message for 30 s");
            }
            int length = lease.Message.Length;
            lease.Message.CopyTo(buffer);
            lease.Release(publish: false); // room goes back in batches (64 KiB or a quarter of the queue), and before a park
            return length;
        }

        public override void Dispose()
        {
            _consumer.Dispose();
            _queue.Dispose();
        }
    }

    private sealed class Sender : IFanInSender
    {
        private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
        private readonly SharedQueue _queue;
        private readonly QueueProducer _producer;

        internal Sender(SharedQueue queue)
        {
            _queue = queue;
            _producer = queue.CreateProducer();
            _producer.SpinBeforeParking = TimeSpan.FromSeconds(1);
        }

        /// <summary>A burst is published once, as the rings' are (a wait for room publishes first).</summary>
        public void Send(ReadOnlySpan<byte> message, bool endOfBurst)
        {
            if (_producer.TryReserve(message.Length, out Span<byte> room))
            {
                message.CopyTo(room);
                _producer.Commit(message.Length, publish: endOfBurst);
            }
            else if (!_producer.TryWrite(message, s_limit))
            {
                throw new TimeoutException("the queue stayed full for 30 s");
            }
        }

        public void Dispose()
        {
            _producer.Dispose();
            _queue.Dispose();
        }
    }
}

/// <summary>One journal with many writers (Block policy, so that nothing is lost), N writer processes, the bench its reader.</summary>
internal sealed class JournalFanIn(int producers) : FanInTransport(producers)
{
    internal const string KindName = "journal";

    internal override string Kind => KindName;

    internal override string Label => string.Create(CultureInfo.InvariantCulture, $"Journal with many writers, {Producers} writer process(es) -> 1 reader, Block");

    internal override FanInReceiver Prepare(int size, string scratchDirectory)
    {
        var journal = Journal.Create(UniqueName("journal"), JournalTransport.Options(size) with { Writers = JournalWriters.Many, MaxWriters = Producers });
        return new Receiver(journal);
    }

    internal override IFanInSender Join(IReadOnlyList<string> endpoint, int size) => new Sender(Journal.Open(endpoint[0]));

    /// <summary>The reader registers its cursor before any writer starts: a Block writer waits for it from entry 0.</summary>
    private sealed class Receiver(Journal journal) : FanInReceiver
    {
        private readonly Journal _journal = journal;
        private readonly CommittingReader _reader = new(journal);

        internal override IReadOnlyList<string> Endpoint => [_journal.Name];

        internal override int Lanes => 1;

        internal override int Receive(int lane, Span<byte> buffer) => _reader.Receive(buffer);

        public override void Dispose()
        {
            string name = _journal.Name;
            _reader.Dispose();
            _journal.Dispose();
            SharedSegment.Remove(name); // journals persist by design; the bench's are removed
        }
    }

    private sealed class Sender(Journal journal) : IFanInSender
    {
        private readonly JournalWriter _writer = journal.CreateWriter(CommittingReader.Limit);

        public void Send(ReadOnlySpan<byte> message, bool endOfBurst) => _writer.Append(message);

        public void Dispose()
        {
            _writer.Dispose();
            journal.Dispose();
        }
    }
}

/// <summary>A Unix-socket server with N client processes, a receiving thread per connection (the baseline of the fan-in rows).</summary>
internal sealed class UnixFanIn(int producers) : FanInTransport(producers)
{
    internal const string KindName = "unix";

    internal override string Kind => KindName;

    internal override string Label => string.Create(CultureInfo.InvariantCulture, $"Unix-socket server, {Producers} client process(es), a thread per connection (baseline)");

    internal override FanInReceiver Prepare(int size, string scratchDirectory) =>
        new Server(Path.Combine(scratchDirectory, UniqueName("sock")), Producers, size);

    internal override IFanInSender Join(IReadOnlyList<string> endpoint, int size)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(endpoint[0]));
        return new Client(new NetworkStream(socket, ownsSocket: true));
    }

    private sealed class Server : FanInReceiver
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly string _path;
        private readonly int _clients;
        private readonly int _size;
        private readonly List<NetworkStream> _connections = [];

        internal Server(string path, int clients, int size)
        {
            _path = path;
            _clients = clients;
            _size = size;
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen(clients);
        }

        internal override IReadOnlyList<string> Endpoint => [_path];

        internal override int Lanes => _clients;

        internal override void Complete()
        {
            while (_connections.Count < _clients)
            {
                Socket connection = _listener.Poll(Limit, SelectMode.SelectRead) ? _listener.Accept() : throw new TimeoutException("a client did not connect");
                connection.ReceiveTimeout = (int)Limit.TotalMilliseconds;
                _connections.Add(new NetworkStream(connection, ownsSocket: true));
            }
        }

        internal override int Receive(int lane, Span<byte> buffer)
        {
            _connections[lane].ReadExactly(buffer[.._size]);
            return _size;
        }

        public override void Dispose()
        {
            foreach (NetworkStream connection in _connections)
            {
                connection.Dispose();
            }
            _listener.Dispose();
        }
    }

    private sealed class Client(NetworkStream stream) : IFanInSender
    {
        public void Send(ReadOnlySpan<byte> message, bool endOfBurst) => stream.Write(message);

        public void Dispose() => stream.Dispose();
    }
}
