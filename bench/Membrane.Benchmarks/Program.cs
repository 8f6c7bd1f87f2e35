using BenchmarkDotNet.Running;
using Membrane.Benchmarks;

// In-process costs of Membrane's building blocks (BenchmarkDotNet):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- --filter '*Arc*'   (or '*Ring*' for reserve/commit)
// Two-process contention (a harness of its own, see ContendedIncrements):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- contended [seconds-per-round] [rounds]
// The journal across processes (throughput with 0/1/4 readers; latency beside a Unix socket):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- journal [seconds-per-round] [rounds]
if (args is ["journal", ..] or ["journal-follow", ..] or ["journal-latency", ..] or ["socket-latency", ..])
{
    return JournalBench.Run(args);
}
// Every transport between two processes (rings, journal, Unix socket, pipes, TCP) is the CLI's:
//   dotnet run -c Release --project src/Membrane.Cli -- bench
if (args is ["contended", ..] or ["contender", ..])
{
    return ContendedIncrements.Run(args);
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
