namespace Membrane.Cli;

/// <summary>The exit codes scripts can rely on.</summary>
internal static class ExitCodes
{
    /// <summary>Done as asked.</summary>
    public const int Success = 0;

    /// <summary>The operation failed; the message on stderr says why (missing, foreign, in use, refused...).</summary>
    public const int Failed = 1;

    /// <summary>The command line itself was wrong (System.CommandLine's own code for parse errors).</summary>
    public const int Usage = 2;

    /// <summary>Stopped by SIGINT or SIGTERM before it was done (128 + SIGINT, as a shell reports it); what it held is released.</summary>
    public const int Interrupted = 130;
}
