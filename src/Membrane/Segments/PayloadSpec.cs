namespace Membrane.Segments;

/// <summary>
/// What a segment's payload is: its kind and, for typed payloads, the type's fingerprint, name and size. Written at
/// creation, compared at every open.
/// </summary>
internal sealed record PayloadSpec(SegmentKind Kind, TypeFingerprint Type)
{
    /// <summary>Raw bytes with no type.</summary>
    internal static PayloadSpec Raw { get; } = new(SegmentKind.Raw, TypeFingerprint.None);

    /// <summary>Accepts any kind and type (inspection).</summary>
    internal static PayloadSpec Any { get; } = new(SegmentKind.None, TypeFingerprint.None);
}
