using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// A real <c>nats-server</c> with JetStream on a free loopback port and a store directory of its own, started and
/// stopped by a test (stopped with SIGTERM, so that a restart on the same store finds every acknowledged message).
/// </summary>
internal sealed class NatsServer : IDisposable
{
    private static readonly TimeSpan s_startLimit = TimeSpan.FromSeconds(30);
    private static readonly string[] s_installed = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];
    private readonly string _store;
    private Process? _process;

    private NatsServer(string store, int port)
    {
        _store = store;
        Port = port;
        Launch();
    }

    internal int Port { get; }

    internal string Url => string.Create(CultureInfo.InvariantCulture, $"nats://127.0.0.1:{Port}");

    /// <summary>Starts a server whose store lives in a directory <paramref name="segments"/> removes afterwards.</summary>
    internal static NatsServer Start(TestSegments segments) => new(segments.NewDirectory("nats-store"), FreePort());

    /// <summary>The server's program: the Debian package's, or one on the PATH.</summary>
    internal static string Program =>
        s_installed.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "nats-server")))
            .FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("nats-server is not installed: the bridge tests need it (Debian package nats-server; .ci/run installs it).");

    /// <summary>Stops the server gracefully (SIGTERM) and waits for it to exit.</summary>
    internal void Stop()
    {
        if (_process is { HasExited: false } process)
        {
            Assert.Equal(0, Native.Interop.Kill(process.Id, 15));
            Assert.True(process.WaitForExit(s_startLimit), "nats-server did not stop on SIGTERM");
        }
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Stops the server and starts it again on the same port and store.</summary>
    internal void Restart()
    {
        Stop();
        Launch();
    }

    public void Dispose()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
        _process?.Dispose();
    }

    private void Launch()
    {
        var info = new ProcessStartInfo(Program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { "-js", "-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-sd", _store })
        {
            info.ArgumentList.Add(argument);
        }
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Text.StringBuilder();
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start nats-server");
        DataReceivedEventHandler onLine = (_, e) =>
        {
            lock (log)
            {
                log.AppendLine(e.Data);
            }
            if (e.Data?.Contains("Server is ready", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        if (!ready.Task.Wait(s_startLimit))
        {
            throw new TimeoutException($"nats-server was not ready within {s_startLimit.TotalSeconds} s: {log}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
