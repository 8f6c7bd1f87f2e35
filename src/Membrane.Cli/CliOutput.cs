using System.Text.Json;
using System.Text.Json.Serialization;
using Membrane.Errors;
using Spectre.Console;

namespace Membrane.Cli;

/// <summary>What every command shares: JSON for scripts, errors for people, one shape each.</summary>
internal static class CliOutput
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    internal static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, s_json));

    /// <summary>
    /// Runs a command body; a Membrane error becomes its message on stderr and <see cref="ExitCodes.Failed"/>, an argument
    /// the library refused (a value no validator here caught) its message and <see cref="ExitCodes.Usage"/>.
    /// </summary>
    internal static int Run(bool json, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ArgumentException e)
        {
            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new ErrorJson(e.GetType().Name, e.Message, null, null, null, null), s_json));
            }
            Console.Error.WriteLine($"membrane: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (MembraneException e)
        {
            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(
                    new ErrorJson(e.GetType().Name, e.Message, e.SegmentName, e.Expected, e.Found, e.ErrnoName), s_json));
            }
            Console.Error.WriteLine($"membrane: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    internal static string Escape(string text) => Markup.Escape(text);

    private sealed record ErrorJson(string Error, string Message, string? Segment, string? Expected, string? Found, string? Errno);
}
