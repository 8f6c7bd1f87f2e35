using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Segments;

namespace Membrane.TestPeer;

/// <summary>What the peer can be asked to do. Each verb reports progress with <see cref="Say"/>.</summary>
internal static class Verbs
{
    internal static int Run(string verb, string segment, string[] rest) => verb switch
    {
        "attach" => Attach(segment),
        "attach-locked" => Attach(segment, new SegmentOptions { Mapping = SegmentMapping.LockInMemory }),
        "create-and-hang" => CreateAndHang(segment),
        "exchange" => Exchange(segment),
        "identity" => Identity(),
        "open-or-create-increment" => OpenOrCreateIncrement(segment),
        _ when verb.StartsWith("arc-", StringComparison.Ordinal) => ArcVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("journal-", StringComparison.Ordinal) => JournalVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("ring-", StringComparison.Ordinal) => RingVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("channel-", StringComparison.Ordinal) => ChannelVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("crash-", StringComparison.Ordinal) => CrashVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("async-", StringComparison.Ordinal) => AsyncVerbs.Run(verb, segment, rest),
        _ when verb.StartsWith("queue-", StringComparison.Ordinal) => QueueVerbs.Run(verb, segment, rest),
        _ => Unknown(verb),
    };

    /// <summary>Opens the segment, says "attached", and stays until stdin closes (or a kill).</summary>
    private static int Attach(string name, SegmentOptions? options = null)
    {
        using SharedSegment segment = SharedSegment.Open(name, options);
        Say("attached");
        WaitForStdinToClose();
        return 0;
    }

    /// <summary>Starts creating the segment, says "initialising" from inside its initialisation, and hangs there to be killed.</summary>
    private static int CreateAndHang(string name)
    {
        using SharedSegment segment = SharedSegment.Create(name, 4096, PayloadSpec.Raw, SegmentOptions.Default, _ =>
        {
            Say("initialising");
            Thread.Sleep(Timeout.Infinite);
        });
        return 0;
    }

    /// <summary>Reads the long at offset 0, says "read N", writes N+1 at offset 8, says "written", stays until stdin closes.</summary>
    private static int Exchange(string name)
    {
        using SharedSegment segment = SharedSegment.Open(name);
        long value = Volatile.Read(ref MemoryMarshal.AsRef<long>(segment.Payload));
        Say($"read {value.ToString(CultureInfo.InvariantCulture)}");
        Volatile.Write(ref MemoryMarshal.AsRef<long>(segment.Payload[8..]), value + 1);
        Say("written");
        WaitForStdinToClose();
        return 0;
    }

    /// <summary>Waits for "go" on stdin (so that several peers race), opens or creates, increments offset 0, says "done".</summary>
    private static int OpenOrCreateIncrement(string name)
    {
        Say("ready");
        if (Console.In.ReadLine() != "go")
        {
            return 3;
        }
        using SharedSegment segment = SharedSegment.OpenOrCreate(name, 4096);
        Interlocked.Increment(ref MemoryMarshal.AsRef<long>(segment.Payload));
        Say("done");
        WaitForStdinToClose();
        return 0;
    }

    /// <summary>Says "pid P" with the pid this process records itself by in shared memory, and stays until stdin closes.</summary>
    private static int Identity()
    {
        Say(string.Create(CultureInfo.InvariantCulture, $"pid {ProcessIdentity.Current.Pid}"));
        WaitForStdinToClose();
        return 0;
    }

    private static int Unknown(string verb)
    {
        Console.Error.WriteLine($"unknown verb {verb}");
        return 2;
    }

    internal static void Say(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    internal static void WaitForStdinToClose() => Console.In.ReadToEnd();
}
