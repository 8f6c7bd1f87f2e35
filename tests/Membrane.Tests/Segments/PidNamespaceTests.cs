using System.Globalization;
using Membrane.Arcs;
using Membrane.Errors;
using Membrane.Journals;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Segments;

/// <summary>
/// Liveness across PID namespaces: a process started with <c>unshare --pid --fork</c> is pid 1 to itself, and with a
/// /proc of its own (<c>--mount-proc</c>, as in a container) it names itself pid 1 in shared memory too. Neither may make
/// it look alive after its death (pid 1 here is init), nor dead while it lives. The tests run as root, as CI does.
/// </summary>
public sealed class PidNamespaceTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    public static TheoryData<string> Procs => new("host /proc", "own /proc");

    [Theory]
    [MemberData(nameof(Procs))]
    public void A_journal_writer_in_another_pid_namespace_holds_the_role_while_it_lives_and_frees_it_when_killed(string proc)
    {
        string name = _segments.NewName("pidns-writer");
        using var journal = Membrane.Journals.Journal.Create(name, new JournalOptions { Capacity = 16, SlotSize = 64 });
        string[] unshare = proc == "host /proc"
            ? ["unshare", "--pid", "--fork", "--kill-child=SIGKILL"]
            : ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"];
        using Peer launcher = Peer.StartUnder(unshare, "journal-hold-writer", name);
        launcher.Expect("writer");

        var refused = Assert.Throws<SegmentInUseException>(() => journal.CreateWriter());
        Assert.True(journal.WriterAlive);
        Assert.Contains("writer pid", refused.Found, StringComparison.Ordinal);
        Assert.True(SegmentCatalog.Inspect(name).Processes.Single(p => p.Process == journal.Writer).IsAlive);

        // kill -9 of the writer itself (the launcher's only child); the launcher exits once it has reaped it.
        int writer = OnlyChildOf(launcher.Pid);
        Assert.Equal(0, Native.Interop.Kill(writer, 9));
        launcher.WaitForExit();
        Assert.False(Directory.Exists($"/proc/{writer.ToString(CultureInfo.InvariantCulture)}"), "the writer is gone");

        Assert.False(journal.WriterAlive);
        using JournalWriter replacement = journal.CreateWriter();
        Assert.Equal(1, replacement.NextSequence);
        Assert.Equal(ProcessIdentity.Current, journal.Writer);
    }

    [Fact]
    public void A_process_in_a_pid_namespace_that_shares_the_host_proc_records_itself_by_the_pid_the_host_sees()
    {
        using Peer launcher = Peer.StartUnder(["unshare", "--pid", "--fork", "--kill-child=SIGKILL"], "identity", "-");
        string? said = launcher.ReadLine();

        // To itself it is pid 1, as the first process of every such namespace is: a shared identity would make them one.
        Assert.Equal($"pid {OnlyChildOf(launcher.Pid).ToString(CultureInfo.InvariantCulture)}", said);
        launcher.Finish();
    }

    [Fact]
    public void Arc_lockers_in_two_pid_namespaces_whose_threads_have_the_same_id_take_turns_and_lose_no_update()
    {
        // Each is pid 1 of its namespace, so the thread that locks (its main thread) has thread id 1 in both: the lock
        // word names its owner by that id, and a locker must not take the other's id for its own.
        string name = _segments.NewName("pidns-arc");
        using var arc = IpcArc<long>.Create(name, 0);
        string[] unshare = ["unshare", "--pid", "--fork", "--kill-child=SIGKILL"];
        const int Increments = 100_000;
        using Peer first = Peer.StartUnder(unshare, "arc-increment", name, Increments.ToString(CultureInfo.InvariantCulture));
        using Peer second = Peer.StartUnder(unshare, "arc-increment", name, Increments.ToString(CultureInfo.InvariantCulture));
        first.Expect("ready");
        second.Expect("ready");

        first.Send("go");
        second.Send("go");

        first.Expect("done");
        second.Expect("done");
        Assert.Equal(2L * Increments, arc.Read());
        Assert.Equal(0, first.Finish());
        Assert.Equal(0, second.Finish());
    }

    private static int OnlyChildOf(int pid)
    {
        string children = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task/{pid.ToString(CultureInfo.InvariantCulture)}/children").Trim();
        return int.Parse(Assert.Single(children.Split(' ', StringSplitOptions.RemoveEmptyEntries)), CultureInfo.InvariantCulture);
    }
}
