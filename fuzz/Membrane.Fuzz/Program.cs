using Membrane.Fuzz;

// libFuzzer/AFL entry point for the ring's record parser (see RecordParserTarget). To fuzz:
//   dotnet publish -c Release fuzz/Membrane.Fuzz -o out/fuzz
//   sharpfuzz out/fuzz/Membrane.dll                     (instruments the library; `dotnet tool install -g SharpFuzz.CommandLine`)
//   libfuzzer-dotnet --target_path=out/fuzz/Membrane.Fuzz fuzz/corpus
// Without a fuzzing engine, `dotnet run --project fuzz/Membrane.Fuzz -- FILE...` replays inputs once each.
using Membrane;

using SharedRing ring = RecordParserTarget.CreateRing($"membrane-fuzz-{Environment.ProcessId}");
if (args.Length > 0)
{
    foreach (string file in args)
    {
        Console.WriteLine($"{file}: {RecordParserTarget.Run(ring, File.ReadAllBytes(file))} messages accepted");
    }
    return 0;
}
SharpFuzz.Fuzzer.LibFuzzer.Run(input => RecordParserTarget.Run(ring, input));
return 0;
