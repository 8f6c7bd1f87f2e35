using System.Diagnostics;
using System.Globalization;
using Membrane.Native;

namespace Membrane.Segments;

/// <summary>
/// A process as shared memory records it: pid, the low 32 bits of its start time (clock ticks since boot) and a tag
/// of the boot it ran in. A pid alone is not an identity: pids are reused, so a slot left by a dead process could
/// be mistaken for a live stranger's. Pid and start time together name one process of one boot.
/// </summary>
[DebuggerDisplay("pid {Pid} (start {StartTicks}, boot {BootTag:x8})")]
public readonly record struct ProcessIdentity(int Pid, uint StartTicks, uint BootTag)
{
    private static readonly Lazy<ProcessIdentity> s_current = new(ReadCurrent);

    /// <summary>This process.</summary>
    public static ProcessIdentity Current => s_current.Value;

    /// <summary>The boot this machine is in now, reduced to 32 bits of /proc/sys/kernel/random/boot_id.</summary>
    public static uint CurrentBootTag => BootTagSource.Current;

    /// <summary>The identity packed into the one 64-bit word that shared memory holds and CASes (0 = none).</summary>
    internal ulong Packed => (uint)Pid | ((ulong)StartTicks << 32);

    internal static ProcessIdentity Unpack(ulong packed, uint bootTag) =>
        new((int)(uint)packed, (uint)(packed >> 32), bootTag);

    /// <summary>
    /// Whether this is still the same live process: it exists, is not a zombie, started at the recorded time and
    /// in this boot. A zombie counts as dead: it holds nothing any more, it only waits to be reaped.
    /// </summary>
    public bool IsAlive()
    {
        if (Pid <= 0 || (BootTag != 0 && BootTag != CurrentBootTag))
        {
            return false;
        }
        if (Interop.Kill(Pid, 0) != 0 && Interop.LastErrno != Interop.EPERM)
        {
            return false;
        }
        if (!ProcStat.TryRead(Pid, out char state, out ulong startTicks))
        {
            // /proc hides the process (hidepid) or it vanished since kill(): trust kill() unless it vanished.
            return Interop.Kill(Pid, 0) == 0 || Interop.LastErrno == Interop.EPERM;
        }
        return state is not ('Z' or 'X' or 'x') && (uint)startTicks == StartTicks;
    }

    /// <inheritdoc />
    public override string ToString() => Pid.ToString(CultureInfo.InvariantCulture);

    private static ProcessIdentity ReadCurrent()
    {
        int pid = Interop.GetPid();
        if (!ProcStat.TryRead(pid, out _, out ulong startTicks))
        {
            throw new MembraneException("Cannot read this process's start time from /proc/self/stat; Membrane needs /proc.");
        }
        return new ProcessIdentity(pid, (uint)startTicks, CurrentBootTag);
    }

    /// <summary>Field 22 (starttime) and field 3 (state) of /proc/PID/stat.</summary>
    private static class ProcStat
    {
        internal static bool TryRead(int pid, out char state, out ulong startTicks)
        {
            state = '?';
            startTicks = 0;
            string text;
            try
            {
                text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            // The command name (field 2) is in parentheses and may itself hold spaces and ')': skip past the last ')'.
            int close = text.LastIndexOf(')');
            if (close < 0 || close + 2 >= text.Length)
            {
                return false;
            }
            string[] fields = text[(close + 2)..].Split(' ');
            const int StartTimeIndex = 22 - 3; // fields after ')' begin at field 3
            if (fields.Length <= StartTimeIndex || fields[0].Length != 1)
            {
                return false;
            }
            state = fields[0][0];
            return ulong.TryParse(fields[StartTimeIndex], NumberStyles.None, CultureInfo.InvariantCulture, out startTicks);
        }
    }

    private static class BootTagSource
    {
        internal static readonly uint Current = Read();

        private static uint Read()
        {
            try
            {
                string bootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim().Replace("-", "", StringComparison.Ordinal);
                uint tag = uint.Parse(bootId.AsSpan(0, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return tag == 0 ? 1 : tag; // 0 means "not recorded" in a slot
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
            {
                return 1;
            }
        }
    }
}
