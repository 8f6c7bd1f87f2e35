using BenchmarkDotNet.Running;
using Membrane.Benchmarks;

// In-process costs of Membrane's building blocks (BenchmarkDotNet):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- --filter '*Arc*'
// Two-process contention (a harness of its own, see ContendedIncrements):
//   dotnet run -c Release --project bench/Membrane.Benchmarks -- contended [seconds-per-round] [rounds]
if (args is ["contended", ..] or ["contender", ..])
{
    return ContendedIncrements.Run(args);
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
