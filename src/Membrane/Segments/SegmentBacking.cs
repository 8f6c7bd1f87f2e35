namespace Membrane.Segments;

/// <summary>Where a segment's bytes live.</summary>
public enum SegmentBacking
{
    /// <summary>Named POSIX shared memory: the file NAME in /dev/shm (what <c>shm_open("/NAME")</c> opens) or in <c>$MEMBRANE_DIR</c>; gone at reboot.</summary>
    SharedMemory = 0,

    /// <summary>A regular file at the path given as the name: survives a reboot, costs page-cache writeback.</summary>
    File = 1,

    /// <summary>An anonymous <c>memfd</c>: no name at all, shared only by passing its descriptor.</summary>
    Anonymous = 2,
}
