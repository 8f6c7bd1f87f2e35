// SharedCounter: N processes each add 1 to one shared counter M times, under IpcArc's inter-process lock.
//   dotnet run --project samples/SharedCounter -- [processes=4] [increments=100000]
// The parent creates the counter and starts N copies of itself; each opens the counter by name and increments it.
// The printed total is N x M: no update is lost. The last reference to go removes the segment.
using System.Diagnostics;
using System.Globalization;
using Membrane.Arcs;

if (args is ["--child", var childName, var childIncrements])
{
    using var counter = IpcArc<long>.Open(childName);
    for (int i = 0, n = int.Parse(childIncrements, CultureInfo.InvariantCulture); i < n; i++)
    {
        using IpcArcGuard<long> guard = counter.Lock();
        guard.Value++;
    }
    return 0;
}

int processes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4;
int increments = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
string name = $"shared-counter-{Environment.ProcessId}";

using var shared = IpcArc<long>.Create(name, 0);
var stopwatch = Stopwatch.StartNew();
var children = Enumerable.Range(0, processes).Select(_ => StartChild(name, increments)).ToList();
foreach (Process child in children)
{
    child.WaitForExit();
    if (child.ExitCode != 0)
    {
        Console.Error.WriteLine($"child {child.Id} failed with exit code {child.ExitCode}");
        return 1;
    }
}
stopwatch.Stop();

long total = shared.Read();
Console.WriteLine($"{processes} processes x {increments:N0} increments = {total:N0} (expected {(long)processes * increments:N0}) in {stopwatch.Elapsed.TotalSeconds:0.00} s");
return total == (long)processes * increments ? 0 : 1;

static Process StartChild(string name, int increments)
{
    string self = Environment.ProcessPath!;
    var info = new ProcessStartInfo(self) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
    {
        info.ArgumentList.Add(typeof(IpcArc<>).Assembly.Location.Replace("Membrane.dll", "SharedCounter.dll", StringComparison.Ordinal));
    }
    foreach (string argument in new[] { "--child", name, increments.ToString(CultureInfo.InvariantCulture) })
    {
        info.ArgumentList.Add(argument);
    }
    return Process.Start(info)!;
}
