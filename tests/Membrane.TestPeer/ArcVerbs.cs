using System.Globalization;
using System.Runtime.InteropServices;

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
        "arc-rewrite" => Rewrite(name, int.Parse(rest[0], CultureInfo.InvariantCulture)),
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

    /// <summary>Says "ready", then <paramref name="times"/> times sets every field of a 64-byte value to the same number; says "done".</summary>
    private static int Rewrite(string name, int times)
    {
        using var arc = IpcArc<Block64>.Open(name);
        Verbs.Say("ready");
        for (long i = 1; i <= times; i++)
        {
            using IpcArcGuard<Block64> guard = arc.Lock();
            ref Block64 value = ref guard.Value;
            value.A = i;
            value.B = i;
            value.C = i;
            value.D = i;
            value.E = i;
            value.F = i;
            value.G = i;
            value.H = i;
        }
        Verbs.Say("done");
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
