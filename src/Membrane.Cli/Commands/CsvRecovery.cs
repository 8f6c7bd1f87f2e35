using System.Globalization;
using System.Text;

namespace Membrane.Cli.Commands;

/// <summary>
/// Where a reporter's CSV file says it got to. The file, not the cursor, is the truth: rows reach the file before the
/// cursor is committed, so after a crash the file is at or ahead of the cursor. A line cut off by the crash is dropped.
/// </summary>
internal static class CsvRecovery
{
    /// <summary>
    /// Truncates a partial last line and returns the sequence after the last one the file holds, or null when it
    /// holds none (new, empty, or only the header).
    /// </summary>
    internal static long? NextSequence(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        long end = CompleteLength(file);
        if (end < file.Length)
        {
            file.SetLength(end);
        }
        string? last = LastLine(file, end);
        if (last is null || last == Quote.CsvHeader)
        {
            return null;
        }
        // "# lost N (sequences A..B)" (or aborted, or both) or "sequence,...": either way the next sequence follows the last one named.
        if (last.StartsWith("# ", StringComparison.Ordinal))
        {
            int dots = last.LastIndexOf("..", StringComparison.Ordinal);
            return long.Parse(last[(dots + 2)..^1], CultureInfo.InvariantCulture) + 1;
        }
        return long.Parse(last.AsSpan(0, last.IndexOf(',', StringComparison.Ordinal)), CultureInfo.InvariantCulture) + 1;
    }

    /// <summary>The length up to and including the last newline.</summary>
    private static long CompleteLength(FileStream file)
    {
        byte[] buffer = new byte[4096];
        for (long position = file.Length; position > 0;)
        {
            int chunk = (int)Math.Min(buffer.Length, position);
            position -= chunk;
            file.Position = position;
            file.ReadExactly(buffer, 0, chunk);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', chunk - 1, chunk);
            if (newline >= 0)
            {
                return position + newline + 1;
            }
        }
        return 0;
    }

    private static string? LastLine(FileStream file, long end)
    {
        if (end == 0)
        {
            return null;
        }
        long start = Math.Max(0, end - 512);
        byte[] tail = new byte[end - start];
        file.Position = start;
        file.ReadExactly(tail);
        string text = Encoding.ASCII.GetString(tail).TrimEnd('\n');
        int newline = text.LastIndexOf('\n');
        return newline < 0 ? text : text[(newline + 1)..];
    }
}
