using Membrane.Errors;
using Membrane.Segments;

namespace Membrane.Tests.Segments;

public class SegmentNameTests
{
    [Theory]
    [InlineData("", "empty")]
    [InlineData("/", "empty")]
    [InlineData("a/b", "contains '/'")]
    [InlineData("..", "directory reference")]
    [InlineData("tab\there", "control character")]
    public void Invalid_names_are_rejected_with_the_reason(string name, string reason)
    {
        var error = Assert.Throws<InvalidSegmentNameException>(() => SegmentName.Validate(name));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Equal(name, error.SegmentName);
    }

    [Fact]
    public void A_name_longer_than_NAME_MAX_is_rejected_with_its_length()
    {
        string name = new('x', SegmentName.MaxLength + 1);
        var error = Assert.Throws<InvalidSegmentNameException>(() => SegmentName.Validate(name));
        Assert.Contains("256 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_of_exactly_NAME_MAX_bytes_is_accepted() =>
        Assert.Equal(SegmentName.MaxLength, SegmentName.Validate(new string('x', SegmentName.MaxLength)).Length);

    [Fact]
    public void The_POSIX_leading_slash_is_accepted_and_dropped() =>
        Assert.Equal("orders", SegmentName.Validate("/orders"));

    [Fact]
    public void Creating_with_an_invalid_name_fails_before_any_system_call() =>
        Assert.Throws<InvalidSegmentNameException>(() => SharedSegment.Create("a/b", 64));
}
