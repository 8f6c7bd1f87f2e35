using System.CommandLine;
using System.Diagnostics;
using Membrane.Journals;


namespace Membrane.Cli.Commands;

/// <summary>
/// <c>membrane writer</c>: creates the journal if needed and appends quotes, N of them or until SIGINT/SIGTERM,
/// optionally at a fixed rate.
/// </summary>
internal static class WriterCommand
{
    private static readonly string[] s_symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX"];

    internal static Command Create()
    {
        var journal = new Option<string>("--journal") { Description = "The journal's name.", Required = true };
        var count = new Option<long?>("--count") { Description = "Append this many entries, then exit (0: only create the journal)." };
        var rate = new Option<double>("--rate") { Description = "Entries per second (0: as fast as possible)." };
        var capacity = new Option<long>("--capacity") { Description = "Slots in the ring when creating it (a power of two).", DefaultValueFactory = _ => 1 << 16 };
        var readers = new Option<int>("--readers") { Description = "Reader cursors when creating it (1 to 1024).", DefaultValueFactory = _ => 8 };
        capacity.Validators.Add(result =>
        {
            long value = result.GetValueOrDefault<long>();
            if (value <= 0 || (value & (value - 1)) != 0 || value > JournalOptions.MaxCapacity)
            {
                result.AddError($"--capacity must be a power of two from 1 to {JournalOptions.MaxCapacity} slots, not {value}.");
            }
        });
        readers.Validators.Add(result =>
        {
            int value = result.GetValueOrDefault<int>();
            if (value is < 1 or > 1024)
            {
                result.AddError($"--readers must be from 1 to 1024, not {value}.");
            }
        });
        var policy = new Option<OverrunPolicy>("--policy") { Description = "overwrite (never wait for readers) or block (lossless).", DefaultValueFactory = _ => OverrunPolicy.Overwrite };
        var writers = new Option<JournalWriters>("--writers")
        {
            Description = "one (a single writer at a time) or many (several writer commands at once), when creating it.",
            DefaultValueFactory = _ => JournalWriters.One,
        };
        var mode = new Option<UnixFileMode>("--mode")
        {
            Description = "Permission bits in octal when creating it, e.g. 660 to share with the group (default 600).",
            DefaultValueFactory = _ => UnixFileMode.UserRead | UnixFileMode.UserWrite,
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (text.Length is >= 3 and <= 4 && text.All(c => c is >= '0' and <= '7'))
                {
                    return (UnixFileMode)Convert.ToInt32(text, 8);
                }
                result.AddError($"--mode must be octal permission bits such as 600 or 0660, not '{text}'.");
                return default;
            },
        };
        var command = new Command("writer", "Append quote entries to a journal (creating it if needed) until --count or SIGINT/SIGTERM.")
        {
            journal, count, rate, capacity, readers, policy, writers, mode, StopSignal.AtEndOfInput,
        };
        command.SetAction(parse => CliOutput.Run(json: false, () => Run(
            parse.GetRequiredValue(journal), parse.GetValue(count), parse.GetValue(rate),
            new JournalOptions
            {
                Capacity = parse.GetValue(capacity), Cursors = parse.GetValue(readers), Policy = parse.GetValue(policy), Writers = parse.GetValue(writers), SlotSize = 64,
                Mode = parse.GetValue(mode),
            },
            parse.GetValue(StopSignal.AtEndOfInput))));
        return command;
    }

    private static int Run(string name, long? count, double rate, JournalOptions options, bool stopAtEndOfInput)
    {
        using var stop = new StopSignal(stopAtEndOfInput);
        using Journal journal = Journal.OpenOrCreate(name, options);
        if (count == 0)
        {
            Console.Out.WriteLine($"journal {name}: {journal.Capacity} slots, {journal.CursorCount} cursors, {journal.Policy}"
                + (journal.Writers == JournalWriters.Many ? $", up to {journal.MaxWriters} writers" : ""));
            return ExitCodes.Success;
        }
        using JournalWriter writer = journal.CreateWriter();
        long first = -1, last = -1;
        long written = 0;
        var random = new Random();
        double price = 100;
        var clock = Stopwatch.StartNew();
        var quote = default(Quote);
        while (!stop.Token.IsCancellationRequested && (count is null || written < count))
        {
            if (rate > 0 && written >= rate * clock.Elapsed.TotalSeconds)
            {
                // Ahead of the rate: sleep the difference (at least a millisecond, so pacing costs no CPU).
                Thread.Sleep(TimeSpan.FromSeconds(Math.Max(0.001, (written / rate) - clock.Elapsed.TotalSeconds)));
                continue;
            }
            price = Math.Max(0.01, price + ((random.NextDouble() - 0.5) * 0.1));
            quote.Sequence = writer.NextSequence;
            quote.TimestampNanoseconds = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
            quote.SetSymbol(s_symbols[quote.Sequence % s_symbols.Length]);
            quote.Price = Math.Round(price, 4);
            quote.Quantity = random.Next(1, 1000);
            last = writer.Append(quote);
            if (written++ == 0)
            {
                first = last;
            }
        }
        string sequences = journal.Writers == JournalWriters.Many ? $"sequences {first} to {last}, among other writers'" : $"sequences {first}..{last}";
        Console.Out.WriteLine(written == 0
            ? $"wrote 0 entries to {name}"
            : $"wrote {written} entries to {name} ({sequences}) in {clock.Elapsed.TotalSeconds:0.00} s");
        return ExitCodes.Success;
    }
}
