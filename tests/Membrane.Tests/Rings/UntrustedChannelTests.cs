using System.IO.Hashing;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Native;
using Membrane.Rings;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Rings;

/// <summary>Untrusted channels (sealed memfds and wake-up socket pairs over a Unix socket), named duplex channels, async waits.</summary>
public sealed class UntrustedChannelTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    private string NewSocketPath(string purpose) => Path.Combine(_segments.NewDirectory(purpose), "s");

    [Fact]
    public async Task An_untrusted_channel_echoes_checked_messages_between_processes_with_an_async_server()
    {
        const int Messages = 20_000;
        string socketPath = NewSocketPath("channel-echo");
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 64 * 1024 });
        using var client = Peer.Start("channel-echo-client", socketPath, Messages.ToString(), "7", "16384");
        using RingChannel channel = await listener.AcceptAsync().AsTask().WaitAsync(s_wait);
        Assert.True(channel.IsUntrusted);

        byte[] message = new byte[16384];
        for (long sequence = 0; sequence < Messages; sequence++)
        {
            int length = await channel.Incoming.ReadAsync(message).AsTask().WaitAsync(s_wait);
            Assert.Equal(sequence, MemoryMarshal.Read<long>(message));
            Assert.True(XxHash64.HashToUInt64(message.AsSpan(0, length - 8)) == MemoryMarshal.Read<ulong>(message.AsSpan(length - 8)), $"message {sequence} is corrupt");
            await channel.Outgoing.WriteAsync(message.AsMemory(0, length)).AsTask().WaitAsync(s_wait);
        }
        client.Expect($"done {Messages}");
    }

    [Fact]
    public async Task A_listener_turns_away_a_client_it_does_not_admit_and_tells_the_one_it_admits_who_it_is()
    {
        string socketPath = NewSocketPath("channel-credentials");
        int refusedPid = -1;
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 4096 }, admit: peer => peer.Pid != Volatile.Read(ref refusedPid));
        using var refused = Peer.Start("channel-echo-client", socketPath, "1", "7", "64");
        Volatile.Write(ref refusedPid, refused.Pid); // judged when accepted, below: it waits in the backlog until then
        Task<RingChannel> accepting = listener.AcceptAsync().AsTask();

        (int refusedExit, string refusedSaid) = refused.ReadToExit();
        Assert.Equal(1, refusedExit);
        Assert.StartsWith("error ", refusedSaid, StringComparison.Ordinal);
        Assert.Equal(1, listener.Refused);

        using var admitted = Peer.Start("channel-echo-client", socketPath, "1", "7", "64");
        using RingChannel channel = await accepting.WaitAsync(s_wait);
        Assert.Equal(admitted.Pid, channel.Peer?.Pid);
        Assert.Equal(OwnUid(), channel.Peer?.Uid);
        byte[] message = new byte[64];
        int length = await channel.Incoming.ReadAsync(message).AsTask().WaitAsync(s_wait);
        await channel.Outgoing.WriteAsync(message.AsMemory(0, length)).AsTask().WaitAsync(s_wait);
        admitted.Expect("done 1");
    }

    [Fact]
    public async Task A_client_learns_its_server_from_the_kernel()
    {
        string socketPath = NewSocketPath("channel-server-credentials");
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 4096 });
        Task<RingChannel> accepting = listener.AcceptAsync().AsTask();

        using RingChannel client = RingChannel.Connect(socketPath, s_wait);
        using RingChannel server = await accepting.WaitAsync(s_wait);

        Assert.Equal(new PeerCredentials(Environment.ProcessId, OwnUid(), OwnGid()), client.Peer);
        Assert.Equal(client.Peer, server.Peer); // both ends are this process here
    }

    private static uint OwnUid() => StatusField("Uid:");

    private static uint OwnGid() => StatusField("Gid:");

    /// <summary>The real id from /proc/self/status ("Uid:\treal\teffective\tsaved\tfs").</summary>
    private static uint StatusField(string field) =>
        uint.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith(field, StringComparison.Ordinal)).Split('\t')[1], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_peer_that_makes_the_wake_ups_block_and_never_reads_them_never_blocks_a_commit_a_release_or_a_publish()
    {
        const int Rounds = 100_000;
        string socketPath = NewSocketPath("channel-deaf");
        using var server = Peer.Start("channel-hostile", socketPath, "deaf");
        server.Expect("listening");
        using RingChannel channel = RingChannel.Connect(socketPath, s_wait);
        server.Expect("deaf");
        byte[] message = new byte[48];

        int written;
        try
        {
            written = PublishAgainstADeafPeer(channel, message, Rounds);
        }
        catch
        {
            server.KillHard(); // a wake stuck on the server's end returns once that end is gone: cleanup cannot hang too
            throw;
        }

        Assert.Equal(4096 / 56, written); // the ring filled (the server never reads it), and nothing waited
        channel.Dispose();
        server.Expect("done");
    }

    private static int PublishAgainstADeafPeer(RingChannel channel, byte[] message, int rounds) =>
        Unblocked.Run(() =>
        {
            int sent = 0;
            for (int round = 0; round < rounds; round++)
            {
                // Each publication finds the server "parked" and wakes it, into an end it never reads and made blocking.
                sent += channel.Outgoing.TryWrite(message) ? 1 : 0;
                channel.Outgoing.Publish();
                if (channel.Incoming.TryRead(out RingLease lease))
                {
                    lease.Dispose();
                }
                channel.Incoming.Publish();
            }
            return sent;
        }, TimeSpan.FromSeconds(60), "publishing to a peer that never reads its wake-ups");

    [Theory]
    [InlineData("unsealed", "not sealed")]
    [InlineData("short", "wrong size")]
    [InlineData("not-socket", "not a socket")]
    [InlineData("bad-magic", "another magic number")]
    [InlineData("odd-capacity", "capacities 4096 and 3000")]
    [InlineData("too-many-fds", "more descriptors")]
    [InlineData("huge", "more than the 67,108,864 accepted")]
    [InlineData("silent", "nothing")]
    public void A_server_that_breaks_the_handshake_is_refused_before_anything_is_mapped(string mode, string found)
    {
        string socketPath = NewSocketPath("channel-" + mode);
        using var server = Peer.Start("channel-hostile", socketPath, mode);
        server.Expect("listening");

        var error = Assert.Throws<PeerViolationException>(() => RingChannel.Connect(socketPath, TimeSpan.FromMilliseconds(mode == "silent" ? 300 : 10_000)));

        Assert.Contains(found, error.Message, StringComparison.Ordinal);
        Assert.StartsWith(socketPath, error.SegmentName, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hostile_server_scribbling_over_its_rings_and_never_reading_its_wakes_causes_errors_never_a_crash_or_a_hang()
    {
        const int Channels = 12;
        int seed = TestSeed.FromEnvironment(defaultSeed: 1505);
        string socketPath = NewSocketPath("channel-vandal");
        using var server = Peer.Start("channel-hostile", socketPath, "scribble", Channels.ToString(System.Globalization.CultureInfo.InvariantCulture),
            seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        server.Expect("listening");

        long violations = 0, gone = 0, records = 0, writes = 0, channels = 0;
        byte[] message = new byte[100];
        for (int round = 0; round < Channels; round++)
        {
            try
            {
                using RingChannel channel = RingChannel.Connect(socketPath, TimeSpan.FromSeconds(5));
                channels++;
                for (int i = 0; i < 1000; i++)
                {
                    writes += channel.Outgoing.TryWrite(message, TimeSpan.FromMilliseconds(1)) ? 1 : 0;
                    if (channel.Incoming.TryRead(TimeSpan.FromMilliseconds(1), CancellationToken.None, out RingLease lease))
                    {
                        Assert.InRange(lease.Message.Length, 0, channel.Outgoing.MaxMessageSize);
                        records++;
                        lease.Dispose();
                    }
                }
            }
            catch (PeerViolationException)
            {
                violations++;
            }
            catch (PeerGoneException)
            {
                gone++; // the vandal set a closed flag
            }
        }
        server.Expect("done");

        Assert.True(violations > 0, $"seed {seed}: the vandal was never caught ({channels} channels, {records} records, {writes} writes, {gone} closed alarms)");
    }

    [Fact]
    public void A_client_killed_is_detected_by_the_server_through_the_socket()
    {
        string socketPath = NewSocketPath("channel-client-dies");
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 4096 });
        using var client = Peer.Start("channel-connect-and-hang", socketPath);
        using RingChannel channel = listener.Accept();
        client.Expect("connected");

        client.KillHard();

        Assert.Throws<PeerGoneException>(() => channel.Incoming.TryRead(s_wait, CancellationToken.None, out _));
        while (channel.Outgoing.TryWrite(new byte[64]))
        {
        }
        var error = Assert.Throws<PeerGoneException>(() => channel.Outgoing.Write(new byte[64]));
        Assert.Contains("hung up", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connecting_where_nothing_listens_names_the_socket()
    {
        string socketPath = NewSocketPath("channel-nobody");

        var error = Assert.Throws<SegmentNotFoundException>(() => RingChannel.Connect(socketPath, TimeSpan.FromSeconds(1)));

        Assert.Equal(socketPath, error.SegmentName);
    }

    [Fact]
    public void A_dead_listeners_socket_file_is_replaced_and_a_live_listeners_is_not()
    {
        string socketPath = NewSocketPath("channel-stale");
        using (var crashed = Peer.Start("channel-hostile", socketPath, "silent"))
        {
            crashed.Expect("listening");
            crashed.KillHard(); // its socket file stays behind
        }
        Assert.True(File.Exists(socketPath));

        using var listener = RingListener.Listen(socketPath);

        Assert.Throws<SegmentInUseException>(() => RingListener.Listen(socketPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socketPath));
    }

    [Fact]
    public void A_listeners_socket_appears_with_its_mode_and_leaves_nothing_else_behind()
    {
        string socketPath = NewSocketPath("channel-mode");
        var groupToo = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

        using (RingListener.Listen(socketPath, new RingOptions { Capacity = 4096, Mode = groupToo }))
        {
            Assert.Equal(groupToo, File.GetUnixFileMode(socketPath));
            // Built in a private directory beside it and renamed into place: only the socket remains.
            Assert.Equal([socketPath], Directory.GetFileSystemEntries(Path.GetDirectoryName(socketPath)!));
        }

        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(socketPath)!));
    }

    [Fact]
    public async Task A_named_channel_serves_requests_and_both_rings_go_when_both_sides_leave()
    {
        string name = _segments.NewName("channel-named");
        _segments.Track(RingChannel.RequestsName(name));
        _segments.Track(RingChannel.ResponsesName(name));
        using (RingChannel host = RingChannel.Host(name, new RingOptions { Capacity = 4096 }))
        using (RingChannel client = RingChannel.Join(name))
        {
            Task serve = Task.Run(async () =>
            {
                byte[] request = new byte[64];
                for (int i = 0; i < 100; i++)
                {
                    Assert.Equal(sizeof(int), await host.Incoming.ReadAsync(request));
                    int value = BitConverter.ToInt32(request, 0);
                    await host.Outgoing.WriteAsync(BitConverter.GetBytes(value * value));
                }
            });
            byte[] response = new byte[64];
            for (int i = 0; i < 100; i++)
            {
                client.Outgoing.Write(BitConverter.GetBytes(i));
                Assert.True(client.Incoming.TryRead(response, s_wait, CancellationToken.None, out int length));
                Assert.Equal((sizeof(int), i * i), (length, BitConverter.ToInt32(response, 0)));
            }
            await serve.WaitAsync(s_wait);
        }
        Assert.False(File.Exists(TestSegments.ShmPath(RingChannel.RequestsName(name))));
        Assert.False(File.Exists(TestSegments.ShmPath(RingChannel.ResponsesName(name))));
    }

    [Fact]
    public async Task Async_waits_time_out_and_cancel_in_both_modes()
    {
        string name = _segments.NewName("channel-async");
        _segments.Track(RingChannel.RequestsName(name));
        _segments.Track(RingChannel.ResponsesName(name));
        string socketPath = NewSocketPath("channel-async");
        using var listener = RingListener.Listen(socketPath, new RingOptions { Capacity = 4096 });
        Task<RingChannel> accepted = listener.AcceptAsync().AsTask();
        using RingChannel untrusted = RingChannel.Connect(socketPath, s_wait);
        using RingChannel server = await accepted.WaitAsync(s_wait);
        using RingChannel host = RingChannel.Host(name, new RingOptions { Capacity = 4096 });
        using RingChannel joined = RingChannel.Join(name);

        foreach (RingChannel channel in new[] { untrusted, joined })
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(80));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await channel.Incoming.WaitToReadAsync(cancel.Token));
        }
        // A parked async reader is woken by a write from the other side.
        ValueTask<bool> waiting = server.Incoming.WaitToReadAsync();
        untrusted.Outgoing.Write("ping"u8);
        Assert.True(await waiting.AsTask().WaitAsync(s_wait));
    }

    [Fact]
    public void A_write_once_blob_reaches_two_reader_processes_intact()
    {
        string socketPath = NewSocketPath("blob");
        byte[] content = new byte[4 << 20];
        new Random(11).NextBytes(content);
        using WriteOnceBlob blob = WriteOnceBlob.Create(content, "test-blob");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(4);
        string expected = $"blob {content.Length} {XxHash64.HashToUInt64(content):x16}";

        using var first = Peer.Start("channel-blob-read", socketPath);
        using var second = Peer.Start("channel-blob-read", socketPath);
        for (int i = 0; i < 2; i++)
        {
            using Socket reader = listener.Accept();
            blob.SendTo(reader);
        }

        first.Expect(expected);
        second.Expect(expected);
        Assert.True(blob.Content.SequenceEqual(content));
    }

    [Fact]
    public unsafe void A_received_blob_cannot_be_written_and_an_unsealed_one_is_refused()
    {
        (Socket sender, Socket receiver) = ConnectedPair(NewSocketPath("blob-local"));
        using (sender)
        using (receiver)
        {
            using (WriteOnceBlob sent = WriteOnceBlob.Create("immutable"u8))
            {
                sent.SendTo(sender);
            }
            using WriteOnceBlob received = WriteOnceBlob.Receive(receiver, s_wait);
            Assert.Equal("immutable", System.Text.Encoding.UTF8.GetString(received.Content));
            using SafeFileDescriptor writable = Interop.Open($"/proc/self/fd/{received.Descriptor.Number}", Interop.O_RDWR, 0);
            Assert.False(writable.IsInvalid, "the memfd could not be reopened for writing");
            byte x = 1;
            Assert.True(Interop.Write(writable, &x, 1) < 0 && Interop.LastErrno == Interop.EPERM, "a sealed blob took a write");

            using SafeFileDescriptor unsealed = Interop.MemfdCreate("unsealed-blob", Interop.MFD_CLOEXEC);
            Span<byte> message = stackalloc byte[16];
            "MBRNBLOB"u8.CopyTo(message);
            Assert.Equal(0, DescriptorPassing.Send(sender, message, [unsealed]));
            var error = Assert.Throws<PeerViolationException>(() => WriteOnceBlob.Receive(receiver, s_wait));
            Assert.Contains("not sealed", error.Message, StringComparison.Ordinal);
        }
    }

    private static (Socket Sender, Socket Receiver) ConnectedPair(string socketPath)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        var receiver = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        receiver.Connect(new UnixDomainSocketEndPoint(socketPath));
        return (listener.Accept(), receiver);
    }
}
