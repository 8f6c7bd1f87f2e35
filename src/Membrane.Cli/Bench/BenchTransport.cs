using System.Globalization;
using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using Membrane.Journals;
using Membrane.Queues;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.Cli.Bench;

/// <summary>
/// A transport the bench measures: between the bench and one peer process (<see cref="PairTransport"/>), or from
/// several producer processes into the bench (<see cref="FanInTransport"/>).
/// </summary>
internal abstract class BenchTransport
{
    /// <summary>
    /// Every transport: each shared-memory floor right before the ring it is compared with (the VM's vCPU placement can
    /// change within a run), Membrane's, then the baselines; the Unix socket is the one the ratios refer to.
    /// </summary>
    internal static IReadOnlyList<BenchTransport> All { get; } =
        [new FloorTransport(FloorName, parked: false,
             "bare shared memory: an SPSC byte ring each way (one slot for latency), spun on, no header, no checks (the floor)"),
         new RingTransport("ring", "SharedRing, spinning", spin: TimeSpan.FromSeconds(1)),
         new FloorTransport("futex-floor", parked: true,
             "bare shared memory, parked: a futex wait and an unconditional wake a message, no protocol (the parked floor, latency only)"),
         new RingTransport("ring-parked", "SharedRing, parked (futex)", spin: TimeSpan.Zero),
         new RingTransport("ring-async", "SharedRing, parked, every wait awaited (futex reactor)", spin: TimeSpan.Zero, awaited: true),
         new ScaleTransport(),
         new UntrustedRingTransport(),
         new JournalTransport("journal", "Journal, 1 writer -> 1 reader (two journals for replies)", parked: false),
         new JournalTransport("journal-parked", "Journal, reader parked (futex)", parked: true),
         new JournalTransport("journal-async", "Journal, reader parked, every read awaited (futex reactor)", parked: true, awaited: true),
         new QueueTransport(),
         new UnixSocketTransport(),
         new PipeTransport(),
         new TcpTransport()];

    internal const string BaselineName = "unix";

    /// <summary>The bare shared-memory floor, which the shared-memory transports are read against.</summary>
    internal const string FloorName = "shm-floor";

    /// <summary>The name on the command line and in the results.</summary>
    internal abstract string Name { get; }

    /// <summary>What it is, for the reports.</summary>
    internal abstract string Label { get; }

    internal static BenchTransport? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>The transport whose figures this one's ratios are taken against (the Unix socket, or a Unix-socket server with as many clients).</summary>
    internal virtual string Baseline => BaselineName;

    /// <summary>Whether the transport has a figure for <paramref name="mode"/> (the floor has only latency).</summary>
    internal virtual bool Measures(string mode) => true;

    /// <summary>Whether the transport has a figure for <paramref name="mode"/> at messages of <paramref name="size"/> bytes.</summary>
    internal virtual bool Measures(string mode, int size) => mode != BenchResult.WakeMode && Measures(mode);

    /// <summary>A name no other run or scenario uses.</summary>
    protected static string UniqueName(string kind) =>
        string.Create(CultureInfo.InvariantCulture, $"membrane-bench-{Environment.ProcessId}-{kind}-{Interlocked.Increment(ref s_scenario)}");

    /// <summary>
    /// The bytes of room each shared-memory transport gets each way for messages of <paramref name="size"/> bytes (a
    /// ring's capacity, the journal's slots, the floor's slots): at least 4 MiB and 16 messages, the same for all, so that
    /// they are compared with the same slack between writer and reader. On a 2-core VM either process is preempted now
    /// and then, and the other runs on only until the room is full.
    /// </summary>
    internal static long Room(int size) => (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(4L << 20, 16L * size));

    private static int s_scenario;
}

/// <summary>
/// A transport between the bench and one peer process. The bench's side <see cref="Prepare"/>s it before the peer
/// process starts (and says what the peer needs to join), completes it once the peer runs; the peer <see cref="Join"/>s it.
/// </summary>
internal abstract class PairTransport : BenchTransport
{
    /// <summary>The bench's side, before the peer starts: resources made for a <paramref name="mode"/> run, and the peer's arguments to join them.</summary>
    internal abstract PendingLink Prepare(int size, string mode, string scratchDirectory);

    /// <summary>The peer's side.</summary>
    internal abstract IBenchLink Join(IReadOnlyList<string> endpoint, int size);
}

/// <summary>What <see cref="BenchTransport.Prepare"/> leaves: the peer's arguments, and how to finish once the peer runs.</summary>
internal sealed class PendingLink(IReadOnlyList<string> endpoint, Func<IBenchLink> complete, Action? cleanup = null) : IDisposable
{
    internal IReadOnlyList<string> Endpoint { get; } = endpoint;

    /// <summary>Finishes the bench's side (accepts a connection, drops pipe ends meant for the child).</summary>
    internal IBenchLink Complete() => complete();

    /// <summary>Removes what Prepare made, whatever happened.</summary>
    public void Dispose() => cleanup?.Invoke();
}

/// <summary>A named ring channel, waiting with <paramref name="spin"/> before parking; <paramref name="awaited"/>: every wait awaited (latency only).</summary>
internal sealed class RingTransport(string name, string label, TimeSpan spin, bool awaited = false) : PairTransport
{
    internal override string Name => name;

    internal override string Label => label;

    internal override bool Measures(string mode) => !awaited || mode == BenchResult.LatencyMode;

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        // The bench hosts a named channel (two rings); the peer joins it as the client.
        var channel = RingChannel.Host(UniqueName("ring"), new RingOptions { Capacity = Room(size) });
        return new PendingLink([channel.Name], () => Over(channel), channel.Dispose);
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size) => Over(RingChannel.Join(endpoint[0]));

    private IBenchLink Over(RingChannel channel) => awaited ? new AsyncRingBenchLink(channel) : new RingBenchLink(channel).Waiting(spin);
}

/// <summary>A thousand rings, each with a pending asynchronous read (see <see cref="ScaleBenchLink"/>).</summary>
internal sealed class ScaleTransport : PairTransport
{
    internal override string Name => "ring-async-1000";

    internal override string Label => "1,000 rings, a ReadAsync pending on each; one message to each, 0.5 ms apart: wake latency one way, and the threads the pending reads cost";

    /// <summary>Up to 64 KiB: a thousand rings of room for larger messages would take gigabytes of /dev/shm.</summary>
    internal override bool Measures(string mode, int size) => Measures(mode) && size <= 64 * 1024;

    internal override bool Measures(string mode) => mode == BenchResult.WakeMode;

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        string prefix = UniqueName("scale");
        ScaleBenchLink link = ScaleBenchLink.Create(prefix, size);
        return new PendingLink([prefix], () => link, link.Dispose);
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size) => ScaleBenchLink.Open(endpoint[0], size);
}

internal sealed class UntrustedRingTransport : PairTransport
{
    internal override string Name => "ring-untrusted";

    internal override string Label => "SharedRing, untrusted (sealed memfd, socket wake-ups)";

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        string socketPath = Path.Combine(scratchDirectory, UniqueName("sock"));
        var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = Room(size) });
        return new PendingLink([socketPath], () =>
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            RingChannel channel = listener.AcceptAsync(limit.Token).AsTask().GetAwaiter().GetResult();
            return new RingBenchLink(channel);
        }, listener.Dispose);
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size)
    {
        RingChannel channel = RingChannel.Connect(endpoint[0], TimeSpan.FromSeconds(30));
        return new RingBenchLink(channel);
    }
}

/// <summary>Two journals; the reader <paramref name="parked"/> (no spin) or spinning first; <paramref name="awaited"/>: every read awaited (latency only).</summary>
internal sealed class JournalTransport(string name, string label, bool parked, bool awaited = false) : PairTransport
{
    internal override string Name => name;

    internal override string Label => label;

    internal override bool Measures(string mode) => !parked || mode == BenchResult.LatencyMode;

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        string toPeer = UniqueName("journal"), fromPeer = UniqueName("journal");
        JournalOptions options = Options(size);
        Journal outgoing = Journal.Create(toPeer, options);
        Journal incoming = Journal.Create(fromPeer, options);
        return new PendingLink([toPeer, fromPeer], () => Over(outgoing, incoming), () =>
        {
            outgoing.Dispose();
            incoming.Dispose();
            SharedSegment.Remove(toPeer); // journals persist by design; the bench's are removed
            SharedSegment.Remove(fromPeer);
        });
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size) => Over(Journal.Open(endpoint[1]), Journal.Open(endpoint[0]));

    /// <summary>Every bench journal for entries of <paramref name="size"/>: the room every shared-memory transport gets, one cursor, Block (nothing lost).</summary>
    internal static JournalOptions Options(int size) => new()
    {
        SlotSize = size,
        Capacity = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Clamp(Room(size) / size, 16, 1 << 16)),
        Cursors = 1,
        Policy = OverrunPolicy.Block,
    };

    private IBenchLink Over(Journal outgoing, Journal incoming) =>
        awaited ? new AsyncJournalBenchLink(outgoing, incoming) : new JournalBenchLink(outgoing, incoming) { Parked = parked };
}

/// <summary>A stream socket: the bench listens, the peer connects, each side frames messages by the scenario's size.</summary>
internal abstract class SocketTransport : PairTransport
{
    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        Socket listener = NewSocket();
        listener.Bind(ListenOn(scratchDirectory));
        listener.Listen(1);
        return new PendingLink([Describe(listener.LocalEndPoint!)], () =>
        {
            Socket connection = listener.Poll(TimeSpan.FromSeconds(30), SelectMode.SelectRead) ? listener.Accept() : throw new TimeoutException("the peer did not connect");
            connection.ReceiveTimeout = 30_000;
            return Over(connection, size);
        }, listener.Dispose);
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size)
    {
        Socket socket = NewSocket();
        socket.Connect(Parse(endpoint[0]));
        return Over(socket, size);
    }

    protected abstract Socket NewSocket();

    protected abstract EndPoint ListenOn(string scratchDirectory);

    protected abstract string Describe(EndPoint endpoint);

    protected abstract EndPoint Parse(string endpoint);

    private static StreamBenchLink Over(Socket socket, int size)
    {
        if (socket.ProtocolType == ProtocolType.Tcp)
        {
            socket.NoDelay = true; // Nagle would hold back small messages (Unix sockets have neither Nagle nor the option)
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        return new StreamBenchLink(stream, stream, size);
    }
}

internal sealed class UnixSocketTransport : SocketTransport
{
    internal override string Name => BaselineName;

    internal override string Label => "Unix domain socket (baseline)";

    protected override Socket NewSocket() => new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    protected override EndPoint ListenOn(string scratchDirectory) => new UnixDomainSocketEndPoint(Path.Combine(scratchDirectory, UniqueName("sock")));

    protected override string Describe(EndPoint endpoint) => endpoint.ToString()!;

    protected override EndPoint Parse(string endpoint) => new UnixDomainSocketEndPoint(endpoint);
}

internal sealed class TcpTransport : SocketTransport
{
    internal override string Name => "tcp";

    internal override string Label => "TCP loopback (NoDelay)";

    protected override Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    protected override EndPoint ListenOn(string scratchDirectory) => new IPEndPoint(IPAddress.Loopback, 0);

    protected override string Describe(EndPoint endpoint) => ((IPEndPoint)endpoint).Port.ToString(CultureInfo.InvariantCulture);

    protected override EndPoint Parse(string endpoint) => new IPEndPoint(IPAddress.Loopback, int.Parse(endpoint, CultureInfo.InvariantCulture));
}

internal sealed class PipeTransport : PairTransport
{
    internal override string Name => "pipe";

    internal override string Label => "anonymous pipes (one each way)";

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        var toPeer = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
        var fromPeer = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
        return new PendingLink([toPeer.GetClientHandleAsString(), fromPeer.GetClientHandleAsString()], () =>
        {
            // The child has its copies now; closing ours lets either side see the other's end of stream.
            toPeer.DisposeLocalCopyOfClientHandle();
            fromPeer.DisposeLocalCopyOfClientHandle();
            return new StreamBenchLink(toPeer, fromPeer, size);
        }, () =>
        {
            toPeer.Dispose();
            fromPeer.Dispose();
        });
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size) =>
        new StreamBenchLink(new AnonymousPipeClientStream(PipeDirection.Out, endpoint[1]), new AnonymousPipeClientStream(PipeDirection.In, endpoint[0]), size);
}

/// <summary>The floor (<see cref="FloorLink"/>): spun on, or <paramref name="parked"/> on a futex.</summary>
internal sealed class FloorTransport(string name, bool parked, string label) : PairTransport
{
    internal override string Name => name;

    internal override string Label => label;

    /// <summary>The parked floor measures latency only: what it is the floor of is a kernel wake, which a stream of messages never waits for.</summary>
    internal override bool Measures(string mode) => !parked || mode == BenchResult.LatencyMode;

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        int slots = mode == BenchResult.LatencyMode ? 1 : FloorLink.Slots(size);
        var segment = SharedSegment.Create(UniqueName("floor"), FloorLink.PayloadSize(size, slots), new SegmentOptions { RemoveWhenUnused = true });
        return new PendingLink([segment.Name, slots.ToString(CultureInfo.InvariantCulture)],
            () => new FloorLink(segment, outgoing: 0, incoming: FloorLink.RingSize(size, slots), size, slots, parked), segment.Dispose);
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size)
    {
        int slots = int.Parse(endpoint[1], CultureInfo.InvariantCulture);
        return new FloorLink(SharedSegment.Open(endpoint[0]), outgoing: FloorLink.RingSize(size, slots), incoming: 0, size, slots, parked);
    }
}

/// <summary>
/// Two queues, one each way, for round trips (latency only: the queue's throughput, one producer process or several,
/// is <see cref="FanInTransport"/>'s).
/// </summary>
internal sealed class QueueTransport : PairTransport
{
    internal override string Name => "queue";

    internal override string Label => "SharedQueue, spinning (one queue each way)";

    internal override bool Measures(string mode) => mode == BenchResult.LatencyMode;

    internal override PendingLink Prepare(int size, string mode, string scratchDirectory)
    {
        var options = new QueueOptions { Capacity = QueueFanIn.Capacity(size), MaxProducers = 1 };
        SharedQueue toPeer = SharedQueue.Create(UniqueName("queue"), options);
        SharedQueue fromPeer = SharedQueue.Create(UniqueName("queue"), options);
        return new PendingLink([toPeer.Name, fromPeer.Name], () => new QueueBenchLink(toPeer, fromPeer), () =>
        {
            toPeer.Dispose();
            fromPeer.Dispose();
        });
    }

    internal override IBenchLink Join(IReadOnlyList<string> endpoint, int size) => new QueueBenchLink(SharedQueue.Open(endpoint[1]), SharedQueue.Open(endpoint[0]));
}
