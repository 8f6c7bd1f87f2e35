using System.Diagnostics;

namespace Membrane.Tests.Infrastructure;

/// <summary>Compiles a C snippet with gcc (syntax and static assertions only): how layouts are proven to match C.</summary>
internal static class CCompiler
{
    internal static (int ExitCode, string Output) CheckSyntax(string source)
    {
        string file = Path.Combine(Path.GetTempPath(), $"membrane-layout-{Environment.ProcessId}-{Guid.NewGuid():N}.c");
        File.WriteAllText(file, source);
        try
        {
            var info = new ProcessStartInfo("gcc", ["-std=c11", "-fsyntax-only", "-Wall", "-Werror", "-I", RepositoryFiles.PathOf("docs"), file])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using Process gcc = Process.Start(info)!;
            string output = gcc.StandardError.ReadToEnd() + gcc.StandardOutput.ReadToEnd();
            gcc.WaitForExit();
            return (gcc.ExitCode, output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
