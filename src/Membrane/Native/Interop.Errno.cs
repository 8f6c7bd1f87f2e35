using System.Runtime.InteropServices;

namespace Membrane.Native;

internal static partial class Interop
{
    // errno values of Linux (asm-generic/errno-base.h, errno.h); the same on x86_64 and arm64.
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int ESRCH = 3;
    internal const int ENXIO = 6;
    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EBUSY = 16;
    internal const int EEXIST = 17;
    internal const int EINVAL = 22;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int EFBIG = 27;
    internal const int ENOSPC = 28;
    internal const int EDEADLK = 35;
    internal const int ENAMETOOLONG = 36;
    internal const int ELOOP = 40;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;
    internal const int ETIMEDOUT = 110;
    internal const int EOWNERDEAD = 130;
    internal const int ENOTRECOVERABLE = 131;

    /// <summary>The errno the last <c>SetLastError = true</c> import left, read at once after the call.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>The C name of an errno value (ENOENT), or E&lt;n&gt; for one this table does not know.</summary>
    internal static string ErrnoName(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        ENXIO => "ENXIO",
        EINTR => "EINTR",
        EIO => "EIO",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ELOOP => "ELOOP",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        EDEADLK => "EDEADLK",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        EOPNOTSUPP => "EOPNOTSUPP",
        ETIMEDOUT => "ETIMEDOUT",
        EOWNERDEAD => "EOWNERDEAD",
        ENOTRECOVERABLE => "ENOTRECOVERABLE",
        _ => "E" + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>strerror's text for an errno value.</summary>
    internal static string ErrnoText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
