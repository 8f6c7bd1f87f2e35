using System.Globalization;

namespace Membrane.Tests.Infrastructure;

/// <summary>
/// The seed of a randomised test: fixed by default, so that every run tells the same lies; MEMBRANE_TEST_SEED sets
/// another, to explore or to replay a failure (every such test prints its seed in its failure message).
/// </summary>
internal static class TestSeed
{
    internal const string EnvironmentVariable = "MEMBRANE_TEST_SEED";

    internal static int FromEnvironment(int defaultSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed)
            ? seed
            : defaultSeed;
}
