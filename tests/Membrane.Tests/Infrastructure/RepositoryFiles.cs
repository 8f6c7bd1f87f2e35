namespace Membrane.Tests.Infrastructure;

/// <summary>Files of the repository itself (docs/membrane.h), found from the test binaries upwards.</summary>
internal static class RepositoryFiles
{
    internal static string Root { get; } = FindRoot();

    internal static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Membrane.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Membrane.slnx not found above " + AppContext.BaseDirectory);
    }
}
