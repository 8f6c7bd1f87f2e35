using BenchmarkDotNet.Running;

// In-process costs of Membrane's building blocks. Run: dotnet run -c Release --project bench/Membrane.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
