using System.Diagnostics;

namespace Membrane.Segments;

/// <summary>A snapshot of one segment's header and process table, as <c>membrane ls</c> and <c>inspect</c> show it.</summary>
[DebuggerDisplay("{Name} {Kind} {State}")]
public sealed record SegmentInfo
{
    /// <summary>The name (a path for file-backed segments).</summary>
    public required string Name { get; init; }

    /// <summary>Where its bytes live.</summary>
    public required SegmentBacking Backing { get; init; }

    /// <summary>The size of the file, header included.</summary>
    public required long FileSize { get; init; }

    /// <summary>The header's layout version.</summary>
    public required int LayoutVersion { get; init; }

    /// <summary>What the segment holds.</summary>
    public required SegmentKind Kind { get; init; }

    /// <summary>Its initialisation state.</summary>
    public required SegmentState State { get; init; }

    /// <summary>The payload's size in bytes.</summary>
    public required long PayloadSize { get; init; }

    /// <summary>The payload type's fingerprint, name and size (<see cref="TypeFingerprint.None"/> if untyped).</summary>
    public required TypeFingerprint PayloadType { get; init; }

    /// <summary>Who created it.</summary>
    public required ProcessIdentity Creator { get; init; }

    /// <summary>Whether its creator is still running.</summary>
    public required bool CreatorAlive { get; init; }

    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Whether the last process to detach removes it.</summary>
    public required bool RemoveWhenUnused { get; init; }

    /// <summary>Its permission bits.</summary>
    public required UnixFileMode Mode { get; init; }

    /// <summary>The uid that owns it.</summary>
    public required uint OwnerUid { get; init; }

    /// <summary>Every process recorded as attached, live or dead.</summary>
    public required IReadOnlyList<AttachedProcess> Processes { get; init; }

    /// <summary>The process removing it right now, if one is.</summary>
    public ProcessIdentity? RemovalClaimant { get; init; }

    /// <summary>References (handles) held by live processes: an arc's reference count.</summary>
    public int LiveReferences => Processes.Where(p => p.IsAlive).Sum(p => Math.Max(1, p.References));

    /// <summary>How many of <see cref="Processes"/> are alive.</summary>
    public int LiveProcesses => Processes.Count(p => p.IsAlive);

    /// <summary>
    /// Whether this is a segment still being built under a creation name (see <see cref="SegmentCatalog.List"/>): its
    /// <see cref="Name"/> is that creation name, and it is debris once <see cref="Creator"/> is dead.
    /// </summary>
    public bool InCreation { get; init; }

    /// <summary>
    /// "in use", "unused" (removed when unused, and no live process attached: garbage), "persistent" (no live process,
    /// kept by design: a journal or a segment created without <see cref="SegmentOptions.RemoveWhenUnused"/>),
    /// "initialising", "abandoned" (its creator died before it was ready), "being created" or "abandoned creation".
    /// For display: <see cref="IsGarbage"/> decides from the state and flags themselves.
    /// </summary>
    public string Status => (InCreation, State) switch
    {
        (true, _) => CreatorAlive ? "being created" : "abandoned creation",
        (_, SegmentState.Ready) => LiveProcesses > 0 ? "in use" : RemoveWhenUnused ? "unused" : "persistent",
        (_, SegmentState.Abandoned) => "abandoned",
        _ when !CreatorAlive => "abandoned",
        _ => "initialising",
    };

    /// <summary>Whether <c>membrane gc</c> removes it: see <see cref="IsCollectable"/> (persistent segments kept).</summary>
    public bool IsGarbage => IsCollectable(includePersistent: false);

    /// <summary>
    /// Whether garbage collection removes it: a creation whose creator died; a segment whose creator died before it
    /// was ready; a ready segment with no live process attached that was created to be removed when unused — and, with
    /// <paramref name="includePersistent"/>, one kept by design (a journal: its entries and cursor positions are what
    /// the next reader resumes from).
    /// </summary>
    public bool IsCollectable(bool includePersistent) => (InCreation, State) switch
    {
        (true, _) => !CreatorAlive,
        (_, SegmentState.Ready) => LiveProcesses == 0 && (RemoveWhenUnused || includePersistent),
        (_, SegmentState.Abandoned) => true,
        _ => !CreatorAlive,
    };
}
