using Membrane.Segments;

namespace Membrane.Journals;

/// <summary>One reader cursor as the journal records it.</summary>
/// <param name="Id">Its index in the cursor table.</param>
/// <param name="Name">Its name, if it was attached by name.</param>
/// <param name="Registered">Whether a reader ever attached and the cursor was not removed since (Block waits for it).</param>
/// <param name="CommittedPosition">The next sequence it will read after a restart.</param>
/// <param name="Owner">The process attached to it now, if any (alive or not).</param>
/// <param name="OwnerAlive">Whether that process is alive: false for a reader that crashed.</param>
/// <param name="Lag">How many entries behind the writer its committed position is.</param>
public readonly record struct CursorInfo(int Id, string? Name, bool Registered, long CommittedPosition, ProcessIdentity? Owner, bool OwnerAlive, long Lag);
