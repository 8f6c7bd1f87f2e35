using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using HdrHistogram;
using Membrane.Benchmarks.Harness;

namespace Membrane.Benchmarks;

/// <summary>
/// Ping-pong round trips between two processes: a request ring and a response ring (the child echoes), spinning and
/// parked, beside a Unix domain socket echo measured in the same run.
/// <c>dotnet run -c Release --project bench/Membrane.Benchmarks -- ring [size]</c>.
/// </summary>
internal static class RingBench
{
    private const int Samples = 20_000;
    private const int Warmup = 5_000;

    internal static int Run(string[] args)
    {
        switch (args)
        {
            case ["ring-echo", var request, var response, var mode]:
                return RingEcho(request, response, parked: mode == "parked");
            case ["socket-echo", var path, var size]:
                return SocketEcho(path, int.Parse(size, CultureInfo.InvariantCulture));
        }
        int messageSize = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        Console.WriteLine($"Round trips of a {messageSize}-byte message between two processes, {Samples:N0} after {Warmup:N0} warm-up; {Environment.ProcessorCount} cores (ns):");
        Console.WriteLine();
        Console.WriteLine("| transport | p50 | p99 | p99.9 | max | p50 vs Unix socket |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        LongHistogram socket = SocketPingPong(messageSize);
        foreach ((string label, LongHistogram histogram) in new[]
        {
            ("Unix domain socket (baseline)", socket),
            ("SharedRing pair, spinning", RingPingPong(messageSize, "spinning")),
            ("SharedRing pair, parked (futex)", RingPingPong(messageSize, "parked")),
        })
        {
            Console.WriteLine($"| {label} | {histogram.GetValueAtPercentile(50):N0} | {histogram.GetValueAtPercentile(99):N0} | {histogram.GetValueAtPercentile(99.9):N0} | {histogram.GetMaxValue():N0} | {socket.GetValueAtPercentile(50) / (double)histogram.GetValueAtPercentile(50):0.0}x faster |");
        }
        return 0;
    }

    private static long Nanoseconds(long ticks) => ticks * 1_000_000_000 / Stopwatch.Frequency;

    private static LongHistogram RingPingPong(int size, string mode)
    {
        string request = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-ring-req-{Environment.ProcessId}");
        string response = string.Create(CultureInfo.InvariantCulture, $"membrane-bench-ring-resp-{Environment.ProcessId}");
        using var requests = SharedRing.Create(request, new RingOptions { Capacity = 1 << 20 });
        using var responses = SharedRing.Create(response, new RingOptions { Capacity = 1 << 20 });
        using RingProducer producer = requests.CreateProducer();
        using RingConsumer consumer = responses.CreateConsumer();
        using var child = ChildProcess.Start("ring-echo", request, response, mode);
        child.Send("go");
        byte[] message = new byte[size];
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        bool parked = mode == "parked";
        for (int i = 0; i < Warmup + Samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            producer.Write(message);
            RingLease reply;
            if (parked)
            {
                consumer.TryRead(Timeout.InfiniteTimeSpan, CancellationToken.None, out reply);
            }
            else
            {
                while (!consumer.TryRead(out reply))
                {
                }
            }
            if (reply.Message.Length != size)
            {
                throw new InvalidOperationException($"a {reply.Message.Length}-byte reply to a {size}-byte request");
            }
            reply.Dispose();
            if (i >= Warmup)
            {
                histogram.RecordValue(Nanoseconds(Stopwatch.GetTimestamp() - start));
            }
        }
        producer.Write([]); // the end
        child.Result();
        return histogram;
    }

    private static int RingEcho(string request, string response, bool parked)
    {
        using var requests = SharedRing.Open(request);
        using var responses = SharedRing.Open(response);
        using RingConsumer consumer = requests.CreateConsumer();
        using RingProducer producer = responses.CreateProducer();
        ChildProcess.ReadyThenWaitForGo();
        while (true)
        {
            RingLease lease;
            if (parked)
            {
                consumer.TryRead(Timeout.InfiniteTimeSpan, CancellationToken.None, out lease);
            }
            else
            {
                while (!consumer.TryRead(out lease))
                {
                }
            }
            if (lease.Message.IsEmpty)
            {
                lease.Dispose();
                break;
            }
            producer.Write(lease.Message);
            lease.Dispose();
        }
        ChildProcess.Answer("done");
        return 0;
    }

    private static LongHistogram SocketPingPong(int size)
    {
        using var server = new UnixSocketServer("echo");
        using var child = ChildProcess.Start("socket-echo", server.Path, size.ToString(CultureInfo.InvariantCulture));
        using Socket connection = server.Accept();
        child.Send("go");
        byte[] message = new byte[size];
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        for (int i = 0; i < Warmup + Samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            connection.Send(message);
            UnixSocketServer.ReceiveExactly(connection, message);
            if (i >= Warmup)
            {
                histogram.RecordValue(Nanoseconds(Stopwatch.GetTimestamp() - start));
            }
        }
        connection.Shutdown(SocketShutdown.Send);
        child.Result();
        return histogram;
    }

    private static int SocketEcho(string path, int size)
    {
        using Socket socket = UnixSocketServer.Connect(path);
        ChildProcess.ReadyThenWaitForGo();
        byte[] message = new byte[size];
        while (UnixSocketServer.ReceiveExactly(socket, message))
        {
            socket.Send(message);
        }
        ChildProcess.Answer("done");
        return 0;
    }
}
