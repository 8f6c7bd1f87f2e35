using System.Runtime.InteropServices;
using Membrane.Errors;
using Membrane.Native;

namespace Membrane.Sync;

/// <summary>
/// One background thread per process that waits in poll(2) on every descriptor an asynchronous wait is parked on and
/// completes the wait's task when one turns ready: asynchronous waits on descriptors cost no thread each.
/// </summary>
internal sealed unsafe class PollReactor
{
    private static readonly Lazy<PollReactor> s_shared = new(() => new PollReactor());

    private readonly SafeFileDescriptor _control;   // ours alone, so O_NONBLOCK on it cannot be taken away
    private readonly Lock _gate = new();
    private readonly List<Registration> _registrations = [];

    private PollReactor()
    {
        _control = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (_control.IsInvalid)
        {
            NativeError.Throw("eventfd", Interop.LastErrno, null);
        }
        new Thread(Run) { IsBackground = true, Name = "Membrane poll reactor" }.Start();
    }

    internal static PollReactor Shared => s_shared.Value;

    /// <summary>Completes when <paramref name="first"/> or <paramref name="second"/> reports one of its events (or an error, or a hang-up).</summary>
    internal Task WhenReady(SafeHandle first, short firstEvents, SafeHandle? second, short secondEvents, CancellationToken cancellation)
    {
        var registration = new Registration(first, firstEvents, second, secondEvents);
        lock (_gate)
        {
            _registrations.Add(registration);
        }
        Signal();
        if (cancellation.CanBeCanceled)
        {
            registration.Cancellation = cancellation.Register(() =>
            {
                Remove(registration);
                registration.Completion.TrySetCanceled(cancellation);
            });
        }
        return registration.Completion.Task;
    }

    private void Remove(Registration registration)
    {
        lock (_gate)
        {
            _registrations.Remove(registration);
        }
        registration.Cancellation.Dispose();
    }

    private void Signal()
    {
        ulong one = 1;
        _ = Interop.Write(_control, &one, sizeof(ulong));
    }

    private void Run()
    {
        var polled = new List<(Registration Registration, SafeHandle Handle)>();
        while (true)
        {
            Interop.PollFd[] fds;
            lock (_gate)
            {
                _registrations.RemoveAll(r => r.Completion.Task.IsCompleted);
                fds = new Interop.PollFd[1 + (2 * _registrations.Count)];
                fds[0] = new Interop.PollFd { Fd = (int)_control.DangerousGetHandle(), Events = Interop.POLLIN };
                int count = 1;
                foreach (Registration registration in _registrations.ToArray())
                {
                    count = Add(fds, count, registration, registration.First, registration.FirstEvents, polled);
                    count = registration.Second is null ? count : Add(fds, count, registration, registration.Second, registration.SecondEvents, polled);
                }
                Array.Resize(ref fds, count);
            }
            fixed (Interop.PollFd* pointer = fds)
            {
                _ = Interop.Poll(pointer, (nuint)fds.Length, -1);
            }
            if ((fds[0].Returned & Interop.POLLIN) != 0)
            {
                ulong drained;
                _ = Interop.Read(_control, &drained, sizeof(ulong));
            }
            for (int i = 1; i < fds.Length; i++)
            {
                Registration registration = polled[i - 1].Registration;
                if (fds[i].Returned != 0)
                {
                    Remove(registration);
                    registration.Completion.TrySetResult();
                }
                polled[i - 1].Handle.DangerousRelease();
            }
            polled.Clear();
        }
    }

    /// <summary>Adds one descriptor, holding a reference on it for the length of the poll so it cannot be closed and reused meanwhile.</summary>
    private static int Add(Interop.PollFd[] fds, int count, Registration registration, SafeHandle handle, short events, List<(Registration, SafeHandle)> polled)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            registration.Completion.TrySetResult(); // closed under the waiter: let it find out why
            return count;
        }
        fds[count] = new Interop.PollFd { Fd = (int)handle.DangerousGetHandle(), Events = events };
        polled.Add((registration, handle));
        return count + 1;
    }

    private sealed class Registration(SafeHandle first, short firstEvents, SafeHandle? second, short secondEvents)
    {
        internal SafeHandle First { get; } = first;

        internal short FirstEvents { get; } = firstEvents;

        internal SafeHandle? Second { get; } = second;

        internal short SecondEvents { get; } = secondEvents;

        internal TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal CancellationTokenRegistration Cancellation { get; set; }
    }
}
