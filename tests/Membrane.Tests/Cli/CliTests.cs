using System.Globalization;
using System.Text.Json;
using Membrane.Arcs;
using Membrane.Errors;
using Membrane.Segments;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Cli;

/// <summary>The membrane command, run as a real process, as a script would run it.</summary>
[Collection(nameof(Segments.GarbageCollectionTests))] // its gc must not race the gc tests' fixtures
public sealed class CliTests : IDisposable
{
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void Ls_json_lists_a_segment_with_its_kind_size_creator_and_processes()
    {
        string name = _segments.NewName("cli-ls");
        using var segment = SharedSegment.Create(name, 100);
        using var peer = Peer.Start("attach", name);
        peer.Expect("attached");

        (int exitCode, string stdout, string stderr) = Peer.RunCli("ls", "--json");

        Assert.True(exitCode == 0, stderr);
        JsonElement row = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        Assert.Equal("raw", row.GetProperty("kind").GetString());
        Assert.Equal("in use", row.GetProperty("status").GetString());
        Assert.Equal(8192, row.GetProperty("file_size").GetInt64());
        Assert.Equal(Environment.ProcessId, row.GetProperty("created_by").GetProperty("pid").GetInt32());
        Assert.Equal(2, row.GetProperty("live_processes").GetInt32());
    }

    [Fact]
    public void Writer_mode_sets_the_new_journals_permission_bits_and_a_bad_mode_is_a_usage_error()
    {
        string journal = _segments.NewName("cli-mode");

        (int created, _, string creationErrors) = Peer.RunCli("writer", "--journal", journal, "--count", "0", "--mode", "660");
        (int refused, _, string refusal) = Peer.RunCli("writer", "--journal", journal + "-bad", "--count", "0", "--mode", "rw");

        Assert.True(created == 0, creationErrors);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(TestSegments.ShmPath(journal)));
        Assert.Equal(2, refused);
        Assert.Contains("--mode must be octal", refusal, StringComparison.Ordinal);
        Assert.False(File.Exists(TestSegments.ShmPath(journal + "-bad")));
    }

    [Fact]
    public void Ls_does_not_list_foreign_files()
    {
        string name = _segments.NewName("cli-foreign-ls");
        File.WriteAllBytes(TestSegments.ShmPath(name), new byte[8192]);

        (int exitCode, string stdout, _) = Peer.RunCli("ls", "--json");

        Assert.Equal(0, exitCode);
        Assert.DoesNotContain(JsonDocument.Parse(stdout).RootElement.EnumerateArray(), e => e.GetProperty("name").GetString() == name);
    }

    [Fact]
    public void Inspect_json_shows_the_header_and_every_attached_process()
    {
        string name = _segments.NewName("cli-inspect");
        using var segment = SharedSegment.Create(name, 64);
        int victimPid;
        using (var victim = Peer.Start("attach", name))
        {
            victim.Expect("attached");
            victimPid = victim.Pid;
            victim.KillHard();
        }

        (int exitCode, string stdout, string stderr) = Peer.RunCli("inspect", name, "--json");

        Assert.True(exitCode == 0, stderr);
        JsonElement info = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(SegmentHeaderLayout.LayoutVersion, info.GetProperty("layout_version").GetInt32());
        Assert.Equal("ready", info.GetProperty("state").GetString());
        Assert.Equal("0600", info.GetProperty("mode").GetString());
        var processes = info.GetProperty("processes").EnumerateArray().ToList();
        Assert.Contains(processes, p => p.GetProperty("pid").GetInt32() == Environment.ProcessId && p.GetProperty("alive").GetBoolean());
        Assert.Contains(processes, p => p.GetProperty("pid").GetInt32() == victimPid && !p.GetProperty("alive").GetBoolean());
    }

    [Fact]
    public void Inspect_json_of_an_arc_shows_its_type_reference_count_and_lock_holder()
    {
        string name = _segments.NewName("cli-arc");
        using var arc = IpcArc<long>.Create(name, 0);
        using var holder = Peer.Start("arc-hold", name);
        holder.Expect("locked");

        (int exitCode, string stdout, string stderr) = Peer.RunCli("inspect", name, "--json");

        Assert.True(exitCode == 0, stderr);
        JsonElement info = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("arc", info.GetProperty("kind").GetString());
        Assert.Equal("System.Int64", info.GetProperty("payload_type").GetProperty("name").GetString());
        Assert.Equal(8, info.GetProperty("payload_type").GetProperty("size").GetInt32());
        Assert.Equal($"0x{TypeFingerprint.Of<long>().Value:x16}", info.GetProperty("payload_type").GetProperty("fingerprint").GetString());
        Assert.Equal(2, info.GetProperty("live_references").GetInt32());
        Assert.Equal(holder.Pid, info.GetProperty("lock").GetProperty("holder_pid").GetInt32());
        Assert.True(info.GetProperty("lock").GetProperty("changing").GetBoolean());
        holder.Send("release");
        holder.Expect("released");
    }

    [Fact]
    public void Inspect_of_a_missing_name_fails_with_a_clear_message_and_exit_code_1()
    {
        string name = _segments.NewName("cli-missing");

        (int exitCode, _, string stderr) = Peer.RunCli("inspect", name);

        Assert.Equal(1, exitCode);
        Assert.Contains($"Segment '{name}': No such segment.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Rm_refuses_a_foreign_file_and_leaves_it()
    {
        string name = _segments.NewName("cli-foreign-rm");
        File.WriteAllBytes(TestSegments.ShmPath(name), new byte[100]);

        (int exitCode, _, string stderr) = Peer.RunCli("rm", name, "--force");

        Assert.Equal(1, exitCode);
        Assert.Contains("not a Membrane segment", stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Rm_refuses_a_segment_in_use_naming_the_pids_and_force_removes_it()
    {
        string name = _segments.NewName("cli-rm-in-use");
        using var segment = SharedSegment.Create(name, 64);

        (int refused, string refusal, _) = Peer.RunCli("rm", name, "--json");
        (int forced, string removal, string stderr) = Peer.RunCli("rm", name, "--force", "--json");

        Assert.Equal(1, refused);
        JsonElement error = JsonDocument.Parse(refusal).RootElement;
        Assert.Equal(nameof(SegmentInUseException), error.GetProperty("error").GetString());
        Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), error.GetProperty("found").GetString(), StringComparison.Ordinal);
        Assert.True(forced == 0, stderr);
        Assert.Equal(name, JsonDocument.Parse(removal).RootElement.GetProperty("removed")[0].GetString());
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Rm_removes_an_unused_segment_without_force()
    {
        string name = _segments.NewName("cli-rm");
        SharedSegment.Create(name, 64).Dispose();

        (int exitCode, string stdout, string stderr) = Peer.RunCli("rm", name);

        Assert.True(exitCode == 0, stderr);
        Assert.Equal($"removed {name}", stdout.Trim());
        Assert.False(File.Exists(TestSegments.ShmPath(name)));
    }

    [Fact]
    public void Gc_json_removes_what_dead_processes_left_and_nothing_in_use()
    {
        string dead = _segments.NewName("cli-gc-dead");
        string live = _segments.NewName("cli-gc-live");
        Peer holder;
        using (SharedSegment.Create(dead, 64, new SegmentOptions { RemoveWhenUnused = true }))
        {
            holder = Peer.Start("attach", dead);
            holder.Expect("attached");
        }
        using (holder)
        {
            holder.KillHard(); // the last process attached died: nobody is left to remove it
        }
        Assert.True(File.Exists(TestSegments.ShmPath(dead)), "a remove-when-unused segment whose last holder died stays until gc");
        using var held = SharedSegment.Create(live, 64, new SegmentOptions { RemoveWhenUnused = true });
        string prefix = TestSegments.RunPrefix;

        (int exitCode, string stdout, string stderr) = Peer.RunCli("gc", "--json", "--prefix", prefix);

        Assert.True(exitCode == 0, stderr);
        var removed = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains(dead, removed);
        Assert.DoesNotContain(live, removed);
        Assert.False(File.Exists(TestSegments.ShmPath(dead)));
        Assert.True(File.Exists(TestSegments.ShmPath(live)));
    }

    [Fact]
    public void Demo_shows_the_segment_core_across_two_processes_and_cleans_up()
    {
        using Peer demo = Peer.Cli("demo-segment", "--count", "10000");
        _segments.Track(string.Create(CultureInfo.InvariantCulture, $"membrane-demo-{demo.Pid}")); // removed even if the demo is killed
        (int exitCode, string stdout, string stderr) = demo.RunToEnd();

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("no update lost", stdout, StringComparison.Ordinal);
        Assert.Contains("is gone", stdout, StringComparison.Ordinal);
    }
}
