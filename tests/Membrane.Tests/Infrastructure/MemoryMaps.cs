using System.Globalization;

namespace Membrane.Tests.Infrastructure;

/// <summary>This process's mappings of one file, as the kernel reports them in /proc/self/smaps.</summary>
internal static class MemoryMaps
{
    /// <summary>
    /// One mapping: its address range; its size, resident and page size in KiB; whether it is locked (mlock: the VMA's
    /// "lo" flag; smaps' Locked line is proportional to how many mappings share the pages).
    /// </summary>
    internal readonly record struct Mapping(string Range, long SizeKb, long ResidentKb, bool Locked, long PageSizeKb);

    /// <summary>Every mapping of <paramref name="path"/> in this process now.</summary>
    internal static IReadOnlyList<Mapping> Of(string path)
    {
        var found = new List<Mapping>();
        string? range = null;
        var fields = new Dictionary<string, long>();
        bool locked = false;
        void Flush()
        {
            if (range is not null)
            {
                found.Add(new Mapping(range, fields.GetValueOrDefault("Size"), fields.GetValueOrDefault("Rss"), locked,
                    fields.GetValueOrDefault("KernelPageSize")));
            }
            range = null;
            locked = false;
            fields.Clear();
        }
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 0 && words[0].Contains('-', StringComparison.Ordinal) && !words[0].EndsWith(':'))
            {
                Flush();
                if (words.Length >= 6 && string.Join(' ', words[5..]) == path)
                {
                    range = words[0];
                }
            }
            else if (range is not null && words is ["VmFlags:", ..])
            {
                locked = words.Contains("lo");
            }
            else if (range is not null && words.Length == 3 && words[2] == "kB")
            {
                fields[words[0].TrimEnd(':')] = long.Parse(words[1], CultureInfo.InvariantCulture);
            }
        }
        Flush();
        return found;
    }

    /// <summary>The one mapping of <paramref name="path"/> that is not among <paramref name="before"/>.</summary>
    internal static Mapping New(string path, IReadOnlyList<Mapping> before) =>
        Assert.Single(Of(path), m => before.All(b => b.Range != m.Range));
}
