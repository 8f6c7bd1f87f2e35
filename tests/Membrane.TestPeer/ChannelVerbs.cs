using System.Globalization;
using System.IO.Hashing;
using System.Net.Sockets;
using Membrane.Native;
using Membrane.Rings;
using Membrane.Segments;

namespace Membrane.TestPeer;

/// <summary>Verbs for untrusted channels and blobs: an honest client, hostile servers, a blob reader.</summary>
internal static class ChannelVerbs
{
    internal static int Run(string verb, string socketPath, string[] rest) => verb switch
    {
        "channel-echo-client" => EchoClient(socketPath, int.Parse(rest[0], CultureInfo.InvariantCulture), int.Parse(rest[1], CultureInfo.InvariantCulture),
            int.Parse(rest[2], CultureInfo.InvariantCulture)),
        "channel-connect-and-hang" => ConnectAndHang(socketPath),
        "channel-hostile" => Hostile(socketPath, rest[0], rest.Length > 2 ? int.Parse(rest[1], CultureInfo.InvariantCulture) : 0,
            rest.Length > 2 ? int.Parse(rest[2], CultureInfo.InvariantCulture) : 0),
        "channel-blob-read" => ReadBlob(socketPath),
        _ => -1,
    };

    /// <summary>Sends <paramref name="count"/> checked messages one at a time and checks each echo; says "done N".</summary>
    private static int EchoClient(string socketPath, int count, int seed, int maxSize)
    {
        using RingChannel channel = RingChannel.Connect(socketPath, TimeSpan.FromSeconds(10));
        var random = new Random(seed);
        byte[] sent = new byte[maxSize];
        byte[] echoed = new byte[maxSize];
        for (long sequence = 0; sequence < count; sequence++)
        {
            int size = RingVerbs.Fill(sent, sequence, random, maxSize);
            channel.Outgoing.Write(sent.AsSpan(0, size));
            if (!channel.Incoming.TryRead(echoed, TimeSpan.FromSeconds(30), CancellationToken.None, out int length)
                || !echoed.AsSpan(0, length).SequenceEqual(sent.AsSpan(0, size)))
            {
                Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"bad echo {sequence}"));
                return 1;
            }
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {count}"));
        Verbs.WaitForStdinToClose();
        return 0;
    }

    private static int ConnectAndHang(string socketPath)
    {
        using RingChannel channel = RingChannel.Connect(socketPath, TimeSpan.FromSeconds(10));
        Verbs.Say("connected");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>
    /// A server that breaks the channel protocol in the way <paramref name="mode"/> names. Says "listening"; for the
    /// handshake modes, "sent" once the lie is sent (then it waits for stdin to close, keeping the socket open); for
    /// "scribble", it hands out real channels to <paramref name="clients"/> clients in turn and vandalises each (from
    /// <paramref name="seed"/>) until it hangs up, then says "done".
    /// </summary>
    private static int Hostile(string socketPath, string mode, int clients, int seed)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(16);
        Verbs.Say("listening");
        try
        {
            if (mode == "scribble")
            {
                return ScribbleOverEveryChannel(listener, clients, seed);
            }
            if (mode == "deaf")
            {
                return Deaf(listener);
            }
            using Socket client = listener.Accept();
            SendLie(client, mode);
            Verbs.Say("sent");
            Verbs.WaitForStdinToClose();
            return 0;
        }
        finally
        {
            File.Delete(socketPath);
        }
    }

    private static void SendLie(Socket client, string mode)
    {
        const long Capacity = 4096;
        long size = RingLayout.PayloadSize(Capacity);
        using SealedMemfd good = SealedMemfd.CreateWritable("good", size);
        using SealedMemfd wrongSize = SealedMemfd.CreateWritable("short", size - 4096);
        using SafeFileDescriptor unsealed = Interop.MemfdCreate("unsealed", Interop.MFD_CLOEXEC);
        _ = Interop.FTruncate(unsealed, size);
        using SafeFileDescriptor wake = SocketEnd();
        using SealedMemfd notASocket = SealedMemfd.CreateWritable("not-a-socket", 8);
        SafeFileDescriptor memfd = mode switch { "unsealed" => unsealed, "short" => wrongSize.Descriptor, _ => good.Descriptor };
        SafeFileDescriptor signal = mode == "not-socket" ? notASocket.Descriptor : wake;
        Span<byte> handshake = stackalloc byte[ChannelHandshake.Size];
        new ChannelHandshake(mode == "huge" ? RingLayout.MaxCapacity : Capacity, mode switch { "odd-capacity" => 3000, "huge" => RingLayout.MaxCapacity, _ => Capacity })
            .Write(handshake);
        if (mode == "bad-magic")
        {
            handshake[0] ^= 0xFF;
        }
        if (mode == "silent")
        {
            return;
        }
        int count = mode == "too-many-fds" ? 9 : ChannelHandshake.DescriptorCount;
        SafeFileDescriptor[] descriptors = [.. Enumerable.Range(0, count).Select(i => i % 2 == 0 ? memfd : signal)];
        int errno = DescriptorPassing.Send(client, handshake, descriptors);
        if (errno != 0)
        {
            throw new InvalidOperationException($"sendmsg failed: {errno}");
        }
    }

    /// <summary>Accepts clients until <paramref name="seconds"/> pass; each gets a real channel that a thread vandalises while it lasts.</summary>
    /// <summary>Serves <paramref name="clients"/> clients one after another, each vandalised from seed + its number until it hangs up; says "done".</summary>
    private static int ScribbleOverEveryChannel(Socket listener, int clients, int seed)
    {
        for (int client = 0; client < clients; client++)
        {
            Vandalise(listener.Accept(), new Random(seed + client));
        }
        Verbs.Say("done");
        return 0;
    }

    private static unsafe void Vandalise(Socket client, Random random)
    {
        using (client)
        {
            using SharedRing requests = SharedRing.CreateUntrusted("vandal requests", 4096, client);
            using SharedRing responses = SharedRing.CreateUntrusted("vandal responses", 4096, client);
            if (HandOver(client, requests, responses) is null)
            {
                return;
            }
            // Its own wake-up ends are never read: the client's wakes fill them, and the client must never wait on that.
            while (!DescriptorPassing.PeerHungUp(client))
            {
                RingVerbs.Scribble(random.Next(2) == 0 ? requests.Payload : responses.Payload, 4096, random);
            }
        }
    }

    /// <summary>
    /// Hands the first client a real channel, then does everything a peer can to make the client's wakes block: keeps
    /// the client's wake-up ends and clears O_NONBLOCK on them (they are the client's open file descriptions), never
    /// reads its own ends, keeps both rings' waiting counts at 1 so that the client wakes it on every publication, and
    /// floods the client with wakes. Says "deaf", then "done" once the client hangs up.
    /// </summary>
    private static unsafe int Deaf(Socket listener)
    {
        using Socket client = listener.Accept();
        using SharedRing requests = SharedRing.CreateUntrusted("deaf requests", 4096, client);
        using SharedRing responses = SharedRing.CreateUntrusted("deaf responses", 4096, client);
        if (HandOver(client, requests, responses) is not { } descriptors)
        {
            return 1;
        }
        foreach (SafeFileDescriptor clientEnd in descriptors.Where((_, i) => i % 2 == 1))
        {
            _ = Interop.Fcntl(clientEnd, 4 /* F_SETFL */, 0);
        }
        Verbs.Say("deaf");
        while (!DescriptorPassing.PeerHungUp(client))
        {
            foreach (SharedRing ring in (SharedRing[])[requests, responses])
            {
                Volatile.Write(ref ring.Field32(RingLayout.ConsumerWaitingOffset), 1);
                Volatile.Write(ref ring.Field32(RingLayout.ProducerWaitingOffset), 1);
                ring.Parking.Wake(null);
            }
        }
        Verbs.Say("done");
        return 0;
    }

    /// <summary>Sends the client two real rings of 4 KiB as a listener would; the descriptors sent, or null if sending failed.</summary>
    private static SafeFileDescriptor[]? HandOver(Socket client, SharedRing requests, SharedRing responses)
    {
        Span<byte> handshake = stackalloc byte[ChannelHandshake.Size];
        new ChannelHandshake(4096, 4096).Write(handshake);
        SafeFileDescriptor[] descriptors = [.. requests.Untrusted.SharedDescriptors, .. responses.Untrusted.SharedDescriptors];
        return DescriptorPassing.Send(client, handshake, descriptors) == 0 ? descriptors : null;
    }

    private static unsafe SafeFileDescriptor SocketEnd()
    {
        int* ends = stackalloc int[2];
        _ = Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, ends);
        _ = Interop.Close(ends[1]);
        return new SafeFileDescriptor(ends[0], ownsHandle: true);
    }

    /// <summary>Connects, receives a blob, says "blob LENGTH HASH" (XxHash64, hex) and stays until stdin closes.</summary>
    private static int ReadBlob(string socketPath)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        using WriteOnceBlob blob = WriteOnceBlob.Receive(socket, TimeSpan.FromSeconds(10));
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"blob {blob.Length} {XxHash64.HashToUInt64(blob.Content):x16}"));
        Verbs.WaitForStdinToClose();
        return 0;
    }
}
