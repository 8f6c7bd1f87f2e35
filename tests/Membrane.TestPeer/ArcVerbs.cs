using System.Globalization;
using System.Runtime.InteropServices;
using Membrane.Arcs;

namespace Membrane.TestPeer;

/// <summary>A 64-byte value declared here independently of the tests' own: identical layout, so it may share.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Block64
{
    public long A, B, C, D, E, F, G, H;
}

/// <summary>Same layout as the tests' Pair { int Left; long Right; } under other names.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MirrorPair
{
    public int First;
    public long Second;
}

/// <summary>Verbs that exercise IpcArc from another process.</summary>
internal static class ArcVerbs
{
    internal static int Run(string verb, string name, string[] rest) => verb switch
    {
        "arc-increment" => Increment(name, int.Parse(rest[0], CultureInfo.InvariantCulture)),
        "arc-lock-and-hang" => LockAndHang(name),
        "arc-hold" => Hold(name),
        "arc-hold-reference" => HoldReference(name),
        "arc-create-and-hold" => CreateAndHold(name),
        "arc-rewrite" => Rewrite(name),
        "arc-open-mirror" => OpenMirror(name),
        _ => -1,
    };

    /// <summary>Says "ready", waits for "go", adds one under the lock <paramref name="times"/> times, says "done".</summary>
    private static int Increment(string name, int times)
    {
        using var arc = IpcArc<long>.Open(name);
        Verbs.Say("ready");
        if (Console.In.ReadLine() != "go")
        {
            return 3;
        }
        for (int i = 0; i < times; i++)
        {
            using IpcArcGuard<long> guard = arc.Lock();
            guard.Value++;
        }
        Verbs.Say("done");
        return 0;
    }

    /// <summary>Locks, starts changing the value (writes -1), says "locked", and hangs there to be killed.</summary>
    private static int LockAndHang(string name)
    {
        var arc = IpcArc<long>.Open(name);
        IpcArcGuard<long> guard = arc.Lock();
        guard.Value = -1;
        Verbs.Say("locked");
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }

    /// <summary>Locks, says "locked", releases on "release" and says "released", then stays until stdin closes.</summary>
    private static int Hold(string name)
    {
        using var arc = IpcArc<long>.Open(name);
        using (IpcArcGuard<long> guard = arc.Lock())
        {
            Verbs.Say("locked");
            if (Console.In.ReadLine() != "release")
            {
                return 3;
            }
        }
        Verbs.Say("released");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>Opens a reference, says "opened", keeps it until stdin closes (or a kill).</summary>
    private static int HoldReference(string name)
    {
        using var arc = IpcArc<long>.Open(name);
        Verbs.Say("opened");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>Creates the value (0), says "created", keeps its reference until stdin closes (or a kill).</summary>
    private static int CreateAndHold(string name)
    {
        using var arc = IpcArc<long>.Create(name, 0);
        Verbs.Say("created");
        Verbs.WaitForStdinToClose();
        return 0;
    }

    /// <summary>
    /// Says "ready", then sets every field of a 64-byte value to the same rising number, slowly, over and over, until a line
    /// arrives on stdin; says "done N" with the last number written.
    /// </summary>
    private static int Rewrite(string name)
    {
        using var arc = IpcArc<Block64>.Open(name);
        var stop = Task.Run(Console.In.ReadLine);
        Verbs.Say("ready");
        long i = 0;
        while (!stop.IsCompleted)
        {
            i++;
            Thread.SpinWait(200); // a writer also spends time outside the lock, where readers get through
            using IpcArcGuard<Block64> guard = arc.Lock();
            // A pause between fields holds the value half-written long enough for a racing reader to land inside.
            Span<long> fields = MemoryMarshal.Cast<Block64, long>(new Span<Block64>(ref guard.Value));
            for (int field = 0; field < fields.Length; field++)
            {
                fields[field] = i;
                Thread.SpinWait(20);
            }
        }
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"done {i}"));
        return 0;
    }

    /// <summary>Opens with an independently declared struct of the same layout and says "value FIRST SECOND".</summary>
    private static int OpenMirror(string name)
    {
        using var arc = IpcArc<MirrorPair>.Open(name);
        MirrorPair value = arc.Read();
        Verbs.Say(string.Create(CultureInfo.InvariantCulture, $"value {value.First} {value.Second}"));
        return 0;
    }
}
