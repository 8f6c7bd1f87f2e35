using System.Runtime.CompilerServices;

namespace Membrane.Codegen;

/// <summary>
/// How the methods a message passes through are compiled. By default .NET compiles a method first without
/// optimisation (tier 0: every helper a call, nothing inlined) and recompiles it optimised only after it has been
/// called 30 times and the process has gone 100 ms without compiling anything new, on a background thread. Between two
/// processes that each spin on a core of a 2-core machine that thread waits for a core, and a stream of small messages
/// ran 5–10× slower for its first 0.2–0.5 s (measured: 5–10 M messages/s, then 45–70 M). So the methods every message
/// goes through are compiled optimised on their first call; the fast paths are still inlined into an optimised caller.
/// </summary>
internal static class HotPath
{
    /// <summary>A fast path: inlined into an optimised caller; compiled optimised when a tier-0 caller calls it.</summary>
    internal const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization;

    /// <summary>A slow path kept out of line (so that the fast path stays small), compiled optimised on its first call.</summary>
    internal const MethodImplOptions OutOfLine = MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization;

    /// <summary>A method every message calls, left to the JIT's inlining heuristics, compiled optimised on its first call.</summary>
    internal const MethodImplOptions Optimised = MethodImplOptions.AggressiveOptimization;
}
