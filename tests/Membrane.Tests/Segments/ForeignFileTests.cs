using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>
/// /dev/shm is world-writable: any local user can put a FIFO, a socket or a link there. Listing, inspecting, opening,
/// removing and collecting must each refuse such a file at once, naming what it is, and never hang on it or follow it.
/// These add files every listing sees, so they run with the other tests that list all of /dev/shm.
/// </summary>
[Collection(nameof(GarbageCollectionTests))]
public sealed class ForeignFileTests : IDisposable
{
    private readonly TestSegments _segments = new();
    private readonly List<Socket> _sockets = [];

    public void Dispose()
    {
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }
        _segments.Dispose();
    }

    [Fact]
    public void Fifos_sockets_links_and_empty_files_are_refused_at_once_and_never_listed_or_collected()
    {
        using var target = SharedSegment.Create(_segments.NewName("foreign-target"), 64, new SegmentOptions { RemoveWhenUnused = true });
        (string Name, string Found)[] strangers =
        [
            (MakeFifo(_segments.NewName("foreign-fifo")), "a FIFO"),
            (MakeSocket(_segments.NewName("foreign-socket")), "a socket"),
            (MakeLink(_segments.NewName("foreign-link"), target.Name), "a symbolic link"),
            (MakeEmpty(_segments.NewName("foreign-empty")), "a file of 0 bytes"),
            (MakeHuge(_segments.NewName("foreign-huge")), "a file of 1,099,511,635,968 bytes"), // a header, 1 TiB and a page: sparse
        ];

        IReadOnlyList<SegmentInfo> listed = Unblocked.Run(SegmentCatalog.List, TimeSpan.FromSeconds(30), "listing /dev/shm");
        Assert.Contains(listed, s => s.Name == target.Name);
        foreach ((string name, string found) in strangers)
        {
            Assert.DoesNotContain(listed, s => s.Name == name);
            Assert.Equal(found, Assert.Throws<ForeignSegmentException>(() => SegmentCatalog.Inspect(name)).Found);
            Assert.Equal(found, Assert.Throws<ForeignSegmentException>(() => SharedSegment.Open(name)).Found);
            Assert.Equal(found, Assert.Throws<ForeignSegmentException>(() => SegmentCatalog.Remove(name, force: true)).Found);
            Assert.Contains(name, Directory.GetFileSystemEntries(SegmentName.SharedMemoryDirectory).Select(Path.GetFileName)); // refused, not removed
        }
        IReadOnlyList<SegmentInfo> collectable = SegmentCatalog.CollectGarbage(dryRun: true, namePrefix: TestSegments.RunPrefix);
        Assert.DoesNotContain(collectable, s => strangers.Any(x => x.Name == s.Name));
        Assert.Equal(1, target.CountAttached(out _)); // the link's target was neither followed nor touched

        foreach (string[] command in new[] { new[] { "ls", "--json" }, ["gc", "--dry-run", "--json", "--prefix", TestSegments.RunPrefix] })
        {
            (int exitCode, string stdout, string stderr) = Peer.RunCli(command);
            Assert.True(exitCode == 0, stderr);
            var names = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
            Assert.DoesNotContain(names, n => strangers.Any(s => s.Name == n));
        }
    }

    private static string MakeFifo(string name)
    {
        using var mkfifo = Process.Start("mkfifo", TestSegments.ShmPath(name));
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return name;
    }

    private string MakeSocket(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _sockets.Add(socket);
        socket.Bind(new UnixDomainSocketEndPoint(TestSegments.ShmPath(name)));
        return name;
    }

    private static string MakeLink(string name, string target)
    {
        File.CreateSymbolicLink(TestSegments.ShmPath(name), TestSegments.ShmPath(target));
        return name;
    }

    private static string MakeHuge(string name)
    {
        using var file = new FileStream(TestSegments.ShmPath(name), FileMode.CreateNew);
        file.SetLength(4096 + (1L << 40) + 4096);
        return name;
    }

    private static string MakeEmpty(string name)
    {
        File.WriteAllBytes(TestSegments.ShmPath(name), []);
        return name;
    }
}
