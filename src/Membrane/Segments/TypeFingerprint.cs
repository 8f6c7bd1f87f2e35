using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Membrane.Segments;

/// <summary>
/// A 64-bit digest of an unmanaged type's layout: its size and, recursively, the offset, size and primitive kind of
/// every field (fixed buffers included). Field and type names do not enter it, so two programs that declare the same
/// struct independently can share a segment; a field added, moved or retyped changes it. Types that hold pointers
/// are refused outright: an address means nothing in another process.
/// </summary>
[DebuggerDisplay("{Name} 0x{Value:x16} ({Size} bytes)")]
public readonly record struct TypeFingerprint(ulong Value, string Name, int Size)
{
    /// <summary>No type recorded.</summary>
    public static TypeFingerprint None { get; } = new(0, string.Empty, 0);

    /// <summary>The fingerprint of <typeparamref name="T"/>; throws <see cref="ArgumentException"/> for pointer-holding types.</summary>
    public static TypeFingerprint Of<T>()
        where T : unmanaged => Cache<T>.Refusal is { } refusal ? throw new ArgumentException(refusal, nameof(T)) : Cache<T>.Value;

    /// <summary>"Name (0x..., N bytes)", for messages.</summary>
    public override string ToString() =>
        $"{(Name.Length == 0 ? "(untyped)" : Name)} (fingerprint 0x{Value.ToString("x16", CultureInfo.InvariantCulture)}, {Size} bytes)";

    /// <summary>Computed once per type; a refusal is kept as text so that every call throws a plain ArgumentException.</summary>
    private static class Cache<T>
        where T : unmanaged
    {
        internal static readonly string? Refusal;
        internal static readonly TypeFingerprint Value;

#pragma warning disable CA1810 // the try/catch needs a static constructor
        static Cache()
        {
            try
            {
                Value = Compute(typeof(T), Unsafe.SizeOf<T>());
            }
            catch (ArgumentException e)
            {
                Refusal = e.Message;
            }
        }
#pragma warning restore CA1810
    }

    private static TypeFingerprint Compute(Type type, int size)
    {
        var description = new StringBuilder();
        Describe(type, size, 0, description, type);
        ulong hash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(description.ToString()));
        return new TypeFingerprint(hash == 0 ? 1 : hash, type.FullName ?? type.Name, size);
    }

    private static void Describe(Type type, int size, int baseOffset, StringBuilder into, Type root)
    {
        if (type.IsPointer || type.IsFunctionPointer || type == typeof(nint) || type == typeof(nuint))
        {
            throw new ArgumentException(
                $"{root.FullName} cannot live in shared memory: it holds {type} at offset {baseOffset}, and an address " +
                "or a native-sized integer means nothing (or something else) in another process. Store offsets instead.");
        }
        if (type.IsEnum)
        {
            type = Enum.GetUnderlyingType(type);
        }
        if (type.IsPrimitive)
        {
            into.Append(CultureInfo.InvariantCulture, $"{baseOffset}:{type.Name}:{size};");
            return;
        }
        into.Append(CultureInfo.InvariantCulture, $"{baseOffset}:struct:{size}{{");
        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                     .OrderBy(f => FieldOffset(type, f)))
        {
            int offset = baseOffset + FieldOffset(type, field);
            if (field.GetCustomAttribute<FixedBufferAttribute>() is { } buffer)
            {
                int elementSize = SizeOf(buffer.ElementType);
                into.Append(CultureInfo.InvariantCulture, $"{offset}:fixed:{buffer.ElementType.Name}:{elementSize}x{buffer.Length};");
                continue;
            }
            Describe(field.FieldType, SizeOf(field.FieldType), offset, into, root);
        }
        into.Append('}');
    }

    // For blittable structs the marshalled offset is the in-memory offset; for the rest (bool, char, generic
    // structs) it is still the same in every process, which is all a fingerprint needs. Marshal refuses generic
    // types; their declaration order stands in for the offset, with the sizes still hashed.
    private static int FieldOffset(Type type, FieldInfo field)
    {
        try
        {
            return (int)System.Runtime.InteropServices.Marshal.OffsetOf(type, field.Name);
        }
        catch (ArgumentException)
        {
            return Array.IndexOf(type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic), field);
        }
    }

    private static int SizeOf(Type type) =>
        type.IsPointer || type.IsFunctionPointer ? IntPtr.Size : RuntimeHelpers.SizeOf(type.TypeHandle);
}
