using System.Diagnostics;
using System.Globalization;
using Membrane.Errors;
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

    /// <summary>
    /// This process as /proc names it: in a PID namespace that shares the host's /proc (<c>unshare --pid --fork</c>),
    /// getpid() says 1, the pid of every such namespace's first process, while /proc/self says the pid every
    /// process reading that /proc sees. Liveness never rests on the pid (see <see cref="ProcessTable"/>); identity does.
    /// </summary>
    private static ProcessIdentity ReadCurrent() =>
        ProcStat.TryReadSelf(out int pid, out ulong startTicks)
            ? new ProcessIdentity(pid, (uint)startTicks, CurrentBootTag)
            : throw new MembraneException("Cannot read this process's pid and start time from /proc/self/stat; Membrane needs /proc.");

    /// <summary>Field 22 (starttime) and field 3 (state) of /proc/PID/stat.</summary>
    private static class ProcStat
    {
        internal static bool TryRead(int pid, out char state, out ulong startTicks) =>
            TryRead($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat", out _, out state, out startTicks);

        /// <summary>Field 1 (pid, as this /proc numbers it) and field 22 of /proc/self/stat.</summary>
        internal static bool TryReadSelf(out int pid, out ulong startTicks) => TryRead("/proc/self/stat", out pid, out _, out startTicks);

        private static bool TryRead(string path, out int pid, out char state, out ulong startTicks)
        {
            pid = 0;
            state = '?';
            startTicks = 0;
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            int open = text.IndexOf(" (", StringComparison.Ordinal);
            if (open <= 0 || !int.TryParse(text.AsSpan(0, open), NumberStyles.None, CultureInfo.InvariantCulture, out pid))
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
