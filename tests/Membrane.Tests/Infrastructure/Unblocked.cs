namespace Membrane.Tests.Infrastructure;

/// <summary>
/// Runs work that must not block on a background thread of its own, and fails the test if it has not finished in time:
/// a regression that makes it hang (on a FIFO, in an endless loop over damaged memory) fails one test instead of
/// hanging the suite. Exceptions come back to the test.
/// </summary>
internal static class Unblocked
{
    internal static T Run<T>(Func<T> work, TimeSpan limit, string what)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                error = e;
            }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(limit), $"still running after {limit.TotalSeconds} s: {what}");
        return error is null ? result : throw new InvalidOperationException($"{what}: {error.Message}", error);
    }

    internal static void Run(Action work, TimeSpan limit, string what) => Run(() =>
    {
        work();
        return 0;
    }, limit, what);
}
