using BenchmarkDotNet.Running;
using Membrane.Benchmarks;

// In-process costs of Membrane's building blocks (BenchmarkDotNet):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- --filter '*Arc*'
// Two-process contention (a harness of its own, see ContendedIncrements):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- contended [seconds-per-round] [rounds]
// The journal across processes (throughput with 0/1/4 readers; latency beside a Unix socket):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- journal [seconds-per-round] [rounds]
if (args is ["journal", ..] or ["journal-follow", ..] or ["journal-latency", ..] or ["socket-latency", ..])
{
    return JournalBench.Run(args);
}
// Ping-pong round trips through a pair of SharedRings, beside a Unix socket:
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- ring [message-size]
if (args is ["ring", ..] or ["ring-echo", ..] or ["socket-echo", ..])
{
    return RingBench.Run(args);
}
if (args is ["contended", ..] or ["contender", ..])
{
    return ContendedIncrements.Run(args);
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
