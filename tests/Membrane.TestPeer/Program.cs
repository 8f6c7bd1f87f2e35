using Membrane.TestPeer;

// A child process for the multi-process tests. It says what it did on stdout, one word per line ("attached",
// "initialising", ...), so that tests synchronise on events; it stays attached until its stdin closes or it is
// killed. Usage: Membrane.TestPeer VERB SEGMENT [ARGS...]
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Membrane.TestPeer VERB SEGMENT [ARGS...]");
    return 2;
}
try
{
    return Verbs.Run(args[0], args[1], args[2..]);
}
catch (Membrane.Errors.MembraneException e)
{
    Console.Out.WriteLine($"error {e.GetType().Name}: {e.Message}");
    return 1;
}
