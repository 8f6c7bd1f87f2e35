// A request/response service over a RingChannel between two processes that do not trust each other.
//
//   dotnet run --project samples/QuoteService            starts a quote server as a child process, asks it for quotes
//   dotnet run --project samples/QuoteService -- 5000    ... with that many requests (100,000 by default)
//
// The server listens on a Unix socket; for each client it creates two rings in sealed memfds and passes them over
// the socket. Each side checks what it reads: a request of the wrong size gets an error reply, not a crash.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Rings;

if (args is ["server", string socketPath])
{
    return Server.Run(socketPath);
}

int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
string directory = Directory.CreateTempSubdirectory("quote-service-").FullName;
string socket = Path.Combine(directory, "quotes.sock");
var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
{
    start.ArgumentList.Add(typeof(Server).Assembly.Location); // run as `dotnet QuoteService.dll`
}
start.ArgumentList.Add("server");
start.ArgumentList.Add(socket);
using var server = Process.Start(start)!;
try
{
    if (server.StandardOutput.ReadLine() != "listening")
    {
        Console.Error.WriteLine("the server did not start");
        return 1;
    }
    using RingChannel channel = RingChannel.Connect(socket, TimeSpan.FromSeconds(5));
    Span<byte> reply = stackalloc byte[64];
    long[] roundTrips = new long[rounds];
    for (int id = 0; id < rounds; id++)
    {
        var request = new QuoteRequest(id, Quantity: 100 + (id % 900), Mid: 101.25);
        long sent = Stopwatch.GetTimestamp();
        channel.Outgoing.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<QuoteRequest>(in request)));
        if (!channel.Incoming.TryRead(reply, TimeSpan.FromSeconds(5), CancellationToken.None, out int length))
        {
            throw new TimeoutException($"no quote for request {id} within 5 s");
        }
        roundTrips[id] = Stopwatch.GetTimestamp() - sent;
        Quote quote = MemoryMarshal.Read<Quote>(reply[..length]);
        if (id < 3)
        {
            Console.WriteLine($"quote {quote.Id}: {request.Quantity} @ bid {quote.Bid:F4} / ask {quote.Ask:F4}");
        }
    }
    Array.Sort(roundTrips);
    Console.WriteLine($"{rounds:N0} requests answered; round trip p50 {Micros(roundTrips[rounds / 2]):F2} µs, p99 {Micros(roundTrips[rounds * 99 / 100]):F2} µs");
    return 0;

    static double Micros(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
}
finally
{
    server.Kill();
    server.WaitForExit();
    Directory.Delete(directory, recursive: true);
}

/// <summary>A request for a two-sided quote on a quantity around a mid price.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct QuoteRequest(int Id, int Quantity, double Mid);

/// <summary>The answer: the spread widens with the quantity.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct Quote(int Id, double Bid, double Ask);

internal static class Server
{
    internal static int Run(string socketPath)
    {
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 64 * 1024 });
        Console.WriteLine("listening");
        Console.Out.Flush();
        using RingChannel channel = listener.Accept();
        try
        {
            // False once the client closed its end and every request was read: the loop ends there.
            while (channel.Incoming.TryRead(Timeout.InfiniteTimeSpan, CancellationToken.None, out RingLease lease))
            {
                Quote quote;
                using (lease)
                {
                    // The client is not trusted: a request of the wrong size gets a quote for id -1, never a misread.
                    quote = lease.Message.Length == Marshal.SizeOf<QuoteRequest>() && MemoryMarshal.Read<QuoteRequest>(lease.Message) is var ask && ask.Quantity > 0
                        ? new Quote(ask.Id, ask.Mid - (0.01 * Math.Sqrt(ask.Quantity)), ask.Mid + (0.01 * Math.Sqrt(ask.Quantity)))
                        : new Quote(-1, double.NaN, double.NaN);
                }
                channel.Outgoing.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<Quote>(in quote)));
            }
            return 0;
        }
        catch (Exception e) when (e is PeerGoneException or System.Threading.Channels.ChannelClosedException)
        {
            return 0; // the client died, or stopped reading
        }
    }
}
