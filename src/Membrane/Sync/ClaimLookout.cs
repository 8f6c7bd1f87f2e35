using System.Diagnostics;

namespace Membrane.Sync;

/// <summary>
/// How a waiter paces its looks at a claim that holds it up (a queue consumer at a claimed record, a journal reader or
/// writer at a claimed sequence): the first time it finds a position held up it only notes the time; a look at whether
/// the claimant is alive is due once that position has held it up for <see cref="Delay"/>, and then at most that often.
/// A claim is a copy away from done, so a live claimant is rarely looked at, and a dead one is found at the first look.
/// </summary>
internal struct ClaimLookout()
{
    /// <summary>How long a claim holds a waiter up before the first look, and between looks.</summary>
    internal static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(1);

    private static readonly long s_delayTicks = (long)(Delay.TotalSeconds * Stopwatch.Frequency);

    private long _heldAt = -1; // the position that held the waiter up
    private long _lastLook;    // when the waiter first found it so, or last looked

    /// <summary>Whether a look at the claim at <paramref name="position"/> is due now.</summary>
    internal bool LookDue(long position)
    {
        long now = Stopwatch.GetTimestamp();
        if (_heldAt != position)
        {
            _heldAt = position;
            _lastLook = now;
            return false;
        }
        if (now - _lastLook < s_delayTicks)
        {
            return false;
        }
        _lastLook = now;
        return true;
    }

    /// <summary>The claim was skipped: the next position to hold the waiter up starts afresh.</summary>
    internal void Passed() => _heldAt = -1;
}
