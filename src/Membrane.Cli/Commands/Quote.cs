using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Membrane.Errors;

namespace Membrane.Cli.Commands;

/// <summary>
/// The entry the writer appends and the reporters turn into CSV: 40 bytes,
/// <c>{ sequence, timestamp_ns, symbol (8 ASCII bytes), price (double), quantity (long) }</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Quote
{
    internal const string CsvHeader = "sequence,timestamp_ns,symbol,price,quantity";

    public long Sequence; // the sequence its writer expected: exact with one writer; with many, the next unclaimed one when it was made
    public long TimestampNanoseconds;
    public SymbolBytes Symbol;
    public double Price;
    public long Quantity;

    [InlineArray(8)]
    internal struct SymbolBytes
    {
        private byte _first;
    }

    internal void SetSymbol(string symbol)
    {
        Span<byte> bytes = Symbol;
        bytes.Clear();
        Encoding.ASCII.GetBytes(symbol.AsSpan(0, Math.Min(symbol.Length, 8)), bytes);
    }

    /// <summary>
    /// The quote an entry holds; an entry of another length was not written by <c>membrane writer</c> (another writer
    /// shares the journal, or it is damaged): a clear error, not a guess.
    /// </summary>
    internal static Quote From(ReadOnlySpan<byte> entry, string journal, long sequence) =>
        entry.Length == Unsafe.SizeOf<Quote>()
            ? MemoryMarshal.Read<Quote>(entry)
            : throw new MembraneException($"Entry {sequence} is not a quote: this journal holds entries that 'membrane writer' did not write.", journal,
                expected: $"{Unsafe.SizeOf<Quote>()}-byte quote entries", found: $"an entry of {entry.Length} bytes");

    /// <summary>One CSV row (no newline), numbers in the invariant culture, the price round-trippable.</summary>
    internal readonly string ToCsv(long sequence)
    {
        ReadOnlySpan<byte> symbol = Symbol;
        int end = symbol.IndexOf((byte)0);
        string text = Encoding.ASCII.GetString(end < 0 ? symbol : symbol[..end]);
        return string.Create(CultureInfo.InvariantCulture, $"{sequence},{TimestampNanoseconds},{text},{Price:R},{Quantity}");
    }
}
