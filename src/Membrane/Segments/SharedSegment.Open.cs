using System.Diagnostics;
using System.Globalization;
using Membrane.Diagnostics;
using Membrane.Errors;
using Membrane.Native;
using L = Membrane.Segments.SegmentHeaderLayout;

namespace Membrane.Segments;

public sealed unsafe partial class SharedSegment
{
    /// <summary>How many times OpenOrCreate goes round (exists / vanished / abandoned) before it reports the churn.</summary>
    private const int OpenOrCreateAttempts = 64;

    /// <summary>
    /// Opens an existing raw segment and attaches to it. Fails with <see cref="SegmentNotFoundException"/> if it does
    /// not exist, <see cref="ForeignSegmentException"/> if the name is not a Membrane segment,
    /// <see cref="SegmentLayoutMismatchException"/> for another version or kind, and
    /// <see cref="SegmentAbandonedException"/> if its creator died before finishing it.
    /// </summary>
    public static SharedSegment Open(string name, SegmentOptions? options = null) =>
        Open(name, PayloadSpec.Raw, options ?? SegmentOptions.Default);

    /// <summary>
    /// Opens the segment if it exists, else creates it; safe when several processes race to do it. A segment
    /// abandoned by a creator that died half-way is removed and created anew.
    /// </summary>
    public static SharedSegment OpenOrCreate(string name, long payloadSize, SegmentOptions? options = null)
    {
        SharedSegment segment = OpenOrCreate(name, payloadSize, PayloadSpec.Raw, options ?? SegmentOptions.Default, initialize: null);
        if (segment.PayloadLength < payloadSize)
        {
            long found = segment.PayloadLength;
            segment.Dispose();
            throw new SegmentLayoutMismatchException("The existing segment is smaller than asked for.", name,
                expected: $"at least {payloadSize:N0} payload bytes", found: $"{found:N0} payload bytes");
        }
        return segment;
    }

    /// <summary>Removes the name; processes attached keep their mapping until they detach. False if it did not exist.</summary>
    public static bool Remove(string name, SegmentBacking backing = SegmentBacking.SharedMemory) =>
        SegmentFiles.Unlink(Canonical(name, backing), backing);

    internal static SharedSegment OpenOrCreate(string name, long payloadSize, PayloadSpec spec, SegmentOptions options, Action<SharedSegment>? initialize)
    {
        (name, options) = options.Place(name);
        string canonical = Canonical(name, options.Backing);
        for (int attempt = 0; attempt < OpenOrCreateAttempts; attempt++)
        {
            try
            {
                return Create(canonical, payloadSize, spec, options, initialize);
            }
            catch (SegmentAlreadyExistsException)
            {
            }
            catch (SegmentAbandonedException)
            {
                continue; // our own creation was declared abandoned by an impatient opener: go again
            }
            try
            {
                return Open(canonical, spec, options);
            }
            catch (SegmentNotFoundException)
            {
                // Removed between our create and open: go round.
            }
            catch (SegmentAbandonedException)
            {
                RemoveAbandoned(canonical, options.Backing);
            }
        }
        throw new MembraneException(
            $"Gave up after {OpenOrCreateAttempts} attempts: the segment kept appearing and disappearing under other processes.", canonical);
    }

    internal static SharedSegment Open(string name, PayloadSpec spec, SegmentOptions options)
    {
        (name, options) = options.Place(name);
        string canonical = Canonical(name, options.Backing);
        long deadline = Stopwatch.GetTimestamp() + (long)(options.InitialisationTimeout.TotalSeconds * Stopwatch.Frequency);
        for (int round = 0; ; round++)
        {
            SafeFileDescriptor fd = SegmentFiles.Open(canonical, options.Backing, create: false, writable: true, default);
            string? pending;
            try
            {
                pending = TryOpenReady(canonical, options, fd, spec, out SharedSegment? segment);
                if (segment is not null)
                {
                    return segment;
                }
            }
            catch
            {
                fd.Dispose();
                throw;
            }
            fd.Dispose();
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new SegmentAbandonedException(
                    $"It did not become ready within {options.InitialisationTimeout.TotalSeconds:0.###} s.", canonical,
                    expected: "state Ready", found: pending);
            }
            // A creator is mid-way (microseconds, or the time posix_fallocate takes for a large segment).
            if (round < 100)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>
    /// Maps and validates; returns null with the attached segment when ready, else a description of why it is not
    /// yet (the caller waits). Throws when it never will be (foreign, corrupt, mismatched, abandoned).
    /// </summary>
    private static string? TryOpenReady(string name, SegmentOptions options, SafeFileDescriptor fd, PayloadSpec spec, out SharedSegment? opened)
    {
        opened = null;
        long size = SegmentFiles.SegmentSize(fd, name);
        MappedMemory mapping = MapFor(fd, size, options, name);
        var segment = new SharedSegment(name, options.Backing, fd, mapping);
        try
        {
            // One copy, checked; the handle keeps what it needs of that copy, never the shared header's later values.
            SegmentHeader header = segment.Header;
            string? pending = HeaderCheck.Verify(ref header, name, size, spec);
            if (pending is not null)
            {
                mapping.Dispose();
                return pending;
            }
            segment.Adopt(in header);
            if (CrashPoints.Armed)
            {
                CrashPoints.Reach(CrashPoints.SegmentOpenBeforeAttach);
            }
            segment._slot = segment.Processes.Attach(ProcessIdentity.Current, name);
            if (segment._slot < 0)
            {
                mapping.Dispose();
                return "being removed by another process";
            }
            opened = segment;
            return null;
        }
        catch
        {
            mapping.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Repairs what a dead creator left: declares it abandoned (a CAS, so two repairers never both act on a live
    /// creation) and unlinks it if the name still refers to it.
    /// </summary>
    private static void RemoveAbandoned(string name, SegmentBacking backing)
    {
        SafeFileDescriptor fd;
        try
        {
            fd = SegmentFiles.Open(name, backing, create: false, writable: true, default);
        }
        catch (SegmentNotFoundException)
        {
            return;
        }
        using (fd)
        {
            long size = (long)SegmentFiles.Stat(fd, name).Size;
            if (size >= L.Size)
            {
                using MappedMemory mapping = MappedMemory.Map(fd, size, writable: true, out int errno);
                if (errno != 0)
                {
                    return;
                }
                ref SegmentHeader header = ref *(SegmentHeader*)mapping.Pointer;
                int state = Volatile.Read(ref header.State);
                // Called only after Open gave up on it: a Blank header with no creator recorded has had the whole
                // initialisation timeout to get one, so it counts as gone too.
                bool creatorGone = HeaderCheck.CreatorGone(ref header)
                    || (header.CreatorIdentity == 0 && state == (int)SegmentState.Blank);
                if (state == (int)SegmentState.Ready || !creatorGone
                    || (state != (int)SegmentState.Abandoned
                        && Interlocked.CompareExchange(ref header.State, (int)SegmentState.Abandoned, state) != state))
                {
                    return; // finished, or a live creator, or someone else's repair won
                }
            }
            SegmentFiles.UnlinkIfSame(name, backing, fd);
        }
    }

    /// <summary>The checks an opener makes on a header, in order, each naming what it expected and found.</summary>
    private static class HeaderCheck
    {
        /// <summary>Null when ready and matching; a description when still being created; throws otherwise.</summary>
        internal static string? Verify(ref SegmentHeader header, string name, long fileSize, PayloadSpec spec)
        {
            // Acquire; pairs with the creator's Initialising -> Ready CAS, after which every field below is final.
            var state = (SegmentState)Volatile.Read(ref header.State);
            ulong magic = header.Magic;
            if (magic != 0 && magic != L.Magic)
            {
                throw new ForeignSegmentException("It is not a Membrane segment.", name,
                    expected: $"magic 0x{L.Magic:x16} (\"MEMBRANE\")", found: $"magic 0x{magic:x16}");
            }
            switch (state)
            {
                case SegmentState.Ready:
                    break;
                case SegmentState.Blank or SegmentState.Initialising when CreatorGone(ref header):
                    throw new SegmentAbandonedException(
                        "Its creator died before it finished initialising it, so its contents cannot be trusted.", name,
                        expected: "state Ready", found: $"state {state}, creator pid {CreatorPid(ref header)} no longer running");
                case SegmentState.Blank or SegmentState.Initialising:
                    return $"state {state}, creator pid {CreatorPid(ref header)} still working on it";
                case SegmentState.Abandoned:
                    throw new SegmentAbandonedException("Another process found its creator dead and is removing it.", name,
                        expected: "state Ready", found: "state Abandoned");
                default:
                    throw new ForeignSegmentException("Its header is not a Membrane header.", name,
                        expected: "a state word of 0 to 3", found: $"{(int)state}");
            }
            if (magic != L.Magic)
            {
                throw new SegmentCorruptException("It is marked ready but has no magic number.", name,
                    expected: $"magic 0x{L.Magic:x16}", found: $"magic 0x{magic:x16}");
            }
            if (header.LayoutVersion != L.LayoutVersion)
            {
                throw new SegmentLayoutMismatchException(
                    "It was written by a Membrane with another shared-memory layout.", name,
                    expected: $"layout version {L.LayoutVersion}", found: $"layout version {header.LayoutVersion}");
            }
            Expect(header.HeaderSize == L.Size, name, "header size", L.Size, header.HeaderSize);
            Expect(header.ProcessSlotCount == L.ProcessSlotCount, name, "process slot count", L.ProcessSlotCount, header.ProcessSlotCount);
            Expect(header.TotalSize == fileSize, name, "total size (the file's size)", fileSize, header.TotalSize);
            Expect(header.PayloadOffset == L.Size, name, "payload offset", L.Size, header.PayloadOffset);
            Expect(header.PayloadSize == fileSize - L.Size, name, "payload size (the file's, less the header)", fileSize - L.Size, header.PayloadSize);

            if (spec.Kind != SegmentKind.None && header.Kind != (ushort)spec.Kind)
            {
                throw new SegmentLayoutMismatchException("It holds another kind of structure.", name,
                    expected: $"a {spec.Kind} segment", found: $"a {(SegmentKind)header.Kind} segment");
            }
            if (spec.Kind != SegmentKind.None && (header.TypeFingerprint != spec.Type.Value || header.PayloadTypeSize != spec.Type.Size))
            {
                var found = new TypeFingerprint(header.TypeFingerprint, ReadTypeName(in header), (int)header.PayloadTypeSize);
                throw new SegmentLayoutMismatchException("Its payload type has another layout.", name,
                    expected: $"payload type {spec.Type}", found: $"payload type {found}");
            }
            return null;
        }

        /// <summary>The recorded creator is dead. An unrecorded one (a Blank header) is not known to be.</summary>
        internal static bool CreatorGone(ref SegmentHeader header)
        {
            ulong creator = Volatile.Read(ref header.CreatorIdentity);
            return creator != 0 && !ProcessIdentity.Unpack(creator, header.CreatorBootTag).IsAlive();
        }

        private static string CreatorPid(ref SegmentHeader header) =>
            header.CreatorIdentity == 0 ? "unknown" : ((int)(uint)header.CreatorIdentity).ToString(CultureInfo.InvariantCulture);

        private static void Expect(bool ok, string name, string field, long expected, long found)
        {
            if (!ok)
            {
                throw new SegmentCorruptException($"Its header's {field} is wrong.", name,
                    expected: expected.ToString(CultureInfo.InvariantCulture), found: found.ToString(CultureInfo.InvariantCulture));
            }
        }
    }
}
