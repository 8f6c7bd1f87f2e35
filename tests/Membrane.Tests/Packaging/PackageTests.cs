using System.Text.Json;
using Membrane.Tests.Infrastructure;

namespace Membrane.Tests.Packaging;

/// <summary>The packages heavy work of their own (a Release build of the library and the tool): run alone, not beside timed tests.</summary>
[CollectionDefinition(nameof(PackageTests), DisableParallelization = true)]
public sealed class PackagesRunAlone;

/// <summary>
/// What a user gets from <c>dotnet pack</c>: the library and the tool, with readme, license and symbols, installed and
/// used from a local feed exactly as the README says, with nothing taken from the machine's package cache.
/// </summary>
[Collection(nameof(PackageTests))]
public sealed class PackageTests : IDisposable
{
    private static readonly TimeSpan s_limit = TimeSpan.FromMinutes(4);
    private readonly TestSegments _segments = new();

    public void Dispose() => _segments.Dispose();

    [Fact]
    public void The_packed_tool_installs_from_a_feed_and_a_consumer_project_restores_and_runs_the_library()
    {
        string work = _segments.NewDirectory("packages");
        string feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
        foreach (string project in new[] { "src/Membrane", "src/Membrane.Cli" })
        {
            ExternalCommand.Succeed("dotnet", ["pack", RepositoryFiles.PathOf(project), "-c", "Release", "-o", feed, "--nologo"], s_limit);
        }

        string library = Package(feed, "Membrane");
        string tool = Package(feed, "Membrane.Cli");
        Assert.True(new FileInfo(tool).Length < 25 << 20, $"{tool} is {new FileInfo(tool).Length:N0} bytes");
        Assert.True(File.Exists(Path.ChangeExtension(library, ".snupkg")), "no symbols package beside " + library);
        using (var archive = System.IO.Compression.ZipFile.OpenRead(library))
        {
            Assert.Contains(archive.Entries, e => e.FullName == "README.md");
            Assert.Contains(archive.Entries, e => e.FullName == "lib/net10.0/Membrane.xml");
            using var nuspec = new StreamReader(archive.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            string metadata = nuspec.ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", metadata, StringComparison.Ordinal);
            Assert.Contains("<readme>README.md</readme>", metadata, StringComparison.Ordinal);
            Assert.Contains("<repository type=\"git\"", metadata, StringComparison.Ordinal);
        }
        using (var archive = System.IO.Compression.ZipFile.OpenRead(tool))
        {
            string[] natives = [.. archive.Entries.Where(e => e.FullName.Contains("/runtimes/", StringComparison.Ordinal)).Select(e => e.FullName.Split("/runtimes/")[1].Split('/')[0]).Distinct().Order()];
            Assert.Equal(["linux-arm64", "linux-x64"], natives);
            Assert.DoesNotContain(archive.Entries, e => e.FullName.EndsWith(".pdb", StringComparison.Ordinal) && e.FullName.Contains("/runtimes/", StringComparison.Ordinal));
        }
        string version = Path.GetFileNameWithoutExtension(tool)["Membrane.Cli.".Length..];

        // Only the feed and a package cache of the test's own: nothing of another version or build is picked up.
        string config = Path.Combine(work, "nuget.config");
        File.WriteAllText(config, $"""
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="{feed}" />
                <add key="machine-cache" value="{MachinePackageCache()}" />
              </packageSources>
            </configuration>
            """);
        var isolated = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work, "packages-cache"), ["DOTNET_NOLOGO"] = "1" };

        string tools = Path.Combine(work, "tools");
        ExternalCommand.Succeed("dotnet", ["tool", "install", "--tool-path", tools, "--configfile", config, "Membrane.Cli", "--version", version], s_limit,
            environment: isolated);
        string membrane = Path.Combine(tools, "membrane");
        Assert.StartsWith(version, ExternalCommand.Succeed(membrane, ["--version"], s_limit).Trim(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(ExternalCommand.Succeed(membrane, ["ls", "--json"], s_limit)).RootElement.ValueKind);

        string consumer = Directory.CreateDirectory(Path.Combine(work, "consumer")).FullName;
        File.Copy(config, Path.Combine(consumer, "nuget.config"));
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Membrane" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), """
            using Membrane.Arcs;

            using var arc = IpcArc<long>.Create(args[0], 41);
            using (var guard = arc.Lock())
            {
                guard.Value++;
            }
            using var other = IpcArc<long>.Open(args[0]);
            Console.WriteLine($"value {other.Read()}, references {other.CountReferences()}");
            """);
        string name = _segments.NewName("package-consumer");
        string output = ExternalCommand.Succeed("dotnet", ["run", "--project", consumer, "--", name], s_limit, consumer, isolated);
        Assert.Contains("value 42, references 2", output, StringComparison.Ordinal);
        Assert.False(File.Exists(TestSegments.ShmPath(name)), "the arc outlived its last reference");
    }

    private static string Package(string feed, string id) =>
        Assert.Single(Directory.GetFiles(feed, id + ".*.nupkg"), f => char.IsAsciiDigit(Path.GetFileName(f)[id.Length + 1]));

    /// <summary>Where this machine's restores put packages (the library's own dependencies are there after the repository's restore).</summary>
    private static string MachinePackageCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
