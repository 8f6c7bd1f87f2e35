namespace Membrane.Adapters;

/// <summary>
/// The cancellation a pipe adapter's pending operation waits on: the caller's token forwarded into it, and the adapter's
/// own <c>CancelPending*</c>, which ends the operation with a cancelled result rather than an exception.
/// </summary>
internal sealed class PendingCancellation : IDisposable
{
    private CancellationTokenSource _source = new();

    internal CancellationToken Token => _source.Token;

    internal bool IsCancellationRequested => _source.IsCancellationRequested;

    /// <summary>Cancels the pending operation (or the next one, if none is pending).</summary>
    internal void Cancel() => _source.Cancel();

    /// <summary>Forwards <paramref name="caller"/>'s cancellation into <see cref="Token"/> for as long as the registration lives.</summary>
    internal CancellationTokenRegistration Forward(CancellationToken caller) =>
        caller.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _source);

    /// <summary>After a cancellation was reported: ready for the next operation.</summary>
    internal void Reset()
    {
        if (!_source.TryReset())
        {
            _source.Dispose();
            _source = new CancellationTokenSource();
        }
    }

    public void Dispose() => _source.Dispose();
}
