using Membrane.Fuzz;

// libFuzzer/AFL entry points: the ring's record parser (RecordParserTarget, the default) and the validation of
// segment headers of every kind (HeaderTarget, with --headers first). To fuzz:
//   dotnet publish -c Release fuzz/Membrane.Fuzz -o out/fuzz
//   sharpfuzz out/fuzz/Membrane.dll                     (instruments the library; `dotnet tool install -g SharpFuzz.CommandLine`)
//   libfuzzer-dotnet --target_path=out/fuzz/Membrane.Fuzz [--target_arg=--headers] fuzz/corpus
// Without a fuzzing engine, `dotnet run --project fuzz/Membrane.Fuzz -- [--headers] FILE...` replays inputs once each.
using Membrane.Rings;

bool headers = args is ["--headers", ..];
string[] files = headers ? args[1..] : args;
string name = $"membrane-fuzz-{Environment.ProcessId}";
if (headers)
{
    foreach (string file in files)
    {
        Console.WriteLine($"{file}: {HeaderTarget.Run(name + "-header", File.ReadAllBytes(file))}");
    }
    if (files.Length == 0)
    {
        SharpFuzz.Fuzzer.LibFuzzer.Run(input => HeaderTarget.Run(name + "-header", input));
    }
    return 0;
}
using SharedRing ring = RecordParserTarget.CreateRing(name);
if (files.Length > 0)
{
    foreach (string file in files)
    {
        Console.WriteLine($"{file}: {RecordParserTarget.Run(ring, File.ReadAllBytes(file))} messages accepted");
    }
    return 0;
}
SharpFuzz.Fuzzer.LibFuzzer.Run(input => RecordParserTarget.Run(ring, input));
return 0;
