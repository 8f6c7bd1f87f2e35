using System.CommandLine;
using System.Runtime.InteropServices;

namespace Membrane.Cli.Commands;

/// <summary>
/// SIGINT and SIGTERM as a cancellation token: the long-running verbs stop gracefully on either. With
/// <see cref="AtEndOfInput"/>, standard input closing stops them too.
/// </summary>
internal sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    /// <param name="atEndOfInput">Also stop once standard input reaches its end (see <see cref="AtEndOfInput"/>).</param>
    internal StopSignal(bool atEndOfInput = false)
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        if (atEndOfInput)
        {
            new Thread(WatchInput) { IsBackground = true, Name = "membrane stdin watch" }.Start();
        }
    }

    /// <summary>
    /// The option of the verbs a supervisor runs (<c>membrane demo</c> runs its writer and reporters so): the supervisor
    /// holds the other end of a pipe on their standard input and stops them by closing it, without a signal, and by
    /// dying, even of <c>kill -9</c>, since the kernel then closes it. A process a killed supervisor started would otherwise run on.
    /// </summary>
    internal static Option<bool> AtEndOfInput { get; } = new("--stop-at-eof")
    {
        Description = "Also stop, as on SIGTERM, when standard input reaches its end: a supervisor holding a pipe to it stops this process by closing the pipe, or by dying.",
    };

    internal CancellationToken Token => _stop.Token;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        // The token source is not disposed: the input watch may still cancel it while the process exits.
    }

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true; // no abrupt exit: the command flushes, commits and returns 0
        _stop.Cancel();
    }

    private void WatchInput()
    {
        using Stream input = Console.OpenStandardInput();
        byte[] discard = new byte[256];
        try
        {
            while (input.Read(discard) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A read error ends the input as surely as its end does.
        }
        _stop.Cancel();
    }
}
