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
    /// "in use", "unused" (no live process attached), "initialising", or "abandoned" (its creator died before it
    /// was ready): the states <c>membrane gc</c> acts on.
    /// </summary>
    public string Status => State switch
    {
        SegmentState.Ready => LiveProcesses > 0 ? "in use" : "unused",
        SegmentState.Abandoned => "abandoned",
        _ when !CreatorAlive => "abandoned",
        _ => "initialising",
    };

    /// <summary>Whether <c>membrane gc</c> would remove it: unused, or abandoned by a dead creator.</summary>
    public bool IsGarbage => Status is "unused" or "abandoned";
}
