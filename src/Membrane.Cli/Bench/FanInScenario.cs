using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Membrane.Errors;

namespace Membrane.Cli.Bench;

/// <summary>
/// Throughput from several producer processes into the bench. Every producer streams messages tagged with its number
/// and its own sequence (<c>producer &lt;&lt; 48 | n</c> in the first 8 bytes), in bursts of
/// <see cref="Scenarios.BurstLength"/>, for a fixed time from the bench's "go", then an end message. The bench receives on
/// its lanes, checks each producer's sequence, and counts: the figure is what arrived in a window of the run's budget
/// after a warm-up of a fifth of it, every producer sending all the while. A run that lost, duplicated or reordered a
/// message of any producer fails instead of reporting.
/// </summary>
internal static class FanInScenario
{
    private const int ProducerShift = 48;
    private const long SequenceMask = (1L << ProducerShift) - 1;
    private const long End = SequenceMask;

    /// <summary>How long a producer sends: the warm-up, the window, and a margin for the producers' starts to differ.</summary>
    internal static TimeSpan SendingTime(TimeSpan budget) => (budget / 5) + budget + TimeSpan.FromSeconds(Math.Max(0.2, budget.TotalSeconds / 5));

    /// <summary>
    /// The bench's side, once every producer said it is ready: says "go" through <paramref name="go"/>, receives until
    /// every producer's end message arrived; returns the messages counted in the window and its length, and in
    /// <paramref name="exchanged"/> every message received.
    /// </summary>
    internal static (long Messages, TimeSpan Elapsed) Receive(FanInReceiver receiver, int producers, int size, TimeSpan budget, Action go, out long exchanged)
    {
        int lanes = receiver.Lanes;
        var counts = new long[lanes * 8]; // a cache line a lane: lane i counts at 8 i
        var failures = new Exception?[lanes];
        var threads = new Thread[lanes];
        for (int lane = 0; lane < lanes; lane++)
        {
            int mine = lane;
            // One lane serves every producer (a queue, a journal) or one each (a connection each).
            int ends = lanes == 1 ? producers : 1;
            threads[lane] = new Thread(() =>
            {
                try
                {
                    ReceiveLane(receiver, mine, producers, ends, size, counts);
                }
                catch (Exception e) when (e is MembraneException or IOException or InvalidDataException or TimeoutException or InvalidOperationException)
                {
                    failures[mine] = e;
                }
            }) { IsBackground = true, Name = $"fan-in lane {lane}" };
            threads[lane].Start();
        }
        go();
        Thread.Sleep(budget / 5);
        long before = Sum(counts), start = Stopwatch.GetTimestamp();
        Thread.Sleep(budget);
        long after = Sum(counts);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        TimeSpan limit = SendingTime(budget) + TimeSpan.FromSeconds(30);
        foreach (Thread thread in threads)
        {
            if (!thread.Join(limit))
            {
                throw new TimeoutException("a receiving lane did not get every producer's end");
            }
        }
        if (failures.FirstOrDefault(f => f is not null) is Exception failure)
        {
            throw new InvalidDataException($"{failure.GetType().Name}: {failure.Message}{(receiver.Anomaly is string anomaly ? $"; {anomaly}" : "")}", failure);
        }
        if (receiver.Anomaly is string found)
        {
            throw new InvalidDataException(found);
        }
        exchanged = Sum(counts);
        return (after - before, elapsed);
    }

    /// <summary>A producer's side, once the bench said "go": sends for <see cref="SendingTime"/>, then its end message.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    internal static void Send(IFanInSender sender, int producer, int size, TimeSpan budget)
    {
        byte[] message = new byte[size];
        Random.Shared.NextBytes(message);
        long tag = (long)producer << ProducerShift;
        long ends = Stopwatch.GetTimestamp() + (long)(SendingTime(budget).TotalSeconds * Stopwatch.Frequency);
        long sequence = 0;
        do
        {
            for (int i = 0; i < Scenarios.BurstLength; i++, sequence++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(message, tag | sequence);
                sender.Send(message, endOfBurst: i == Scenarios.BurstLength - 1);
            }
        }
        while (Stopwatch.GetTimestamp() < ends);
        BinaryPrimitives.WriteInt64LittleEndian(message, tag | End);
        sender.Send(message, endOfBurst: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see IBenchLink
    private static void ReceiveLane(FanInReceiver receiver, int lane, int producers, int ends, int size, long[] counts)
    {
        byte[] message = new byte[size];
        var next = new long[producers];
        long received = 0;
        for (int ended = 0; ended < ends;)
        {
            int length = receiver.Receive(lane, message);
            long tag = BinaryPrimitives.ReadInt64LittleEndian(message);
            long producer = tag >>> ProducerShift, sequence = tag & SequenceMask;
            if (length != size || producer >= producers)
            {
                throw new InvalidDataException($"a message of {length} bytes tagged 0x{tag:x16}");
            }
            if (sequence == End)
            {
                ended++;
                continue;
            }
            if (sequence != next[producer]++)
            {
                throw new InvalidDataException($"producer {producer}'s message {sequence} came where {next[producer] - 1} was due");
            }
            Volatile.Write(ref counts[lane * 8], ++received); // read by the bench's clock thread
        }
    }

    private static long Sum(long[] counts)
    {
        long sum = 0;
        for (int i = 0; i < counts.Length; i += 8)
        {
            sum += Volatile.Read(ref counts[i]);
        }
        return sum;
    }
}
