using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FhirArchive.Tests.Support;

/// <summary>
/// A fact of the shared integration suite: it runs against every storage provider, and in the PostgreSQL
/// classes it is reported as skipped (with the reason) when the PostgreSQL binaries are not installed.
/// </summary>
[XunitTestCaseDiscoverer("FhirArchive.Tests.Support.FhirFactDiscoverer", "FhirArchive.Tests.Support")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class FhirFactAttribute : FactAttribute;

public sealed class FhirFactDiscoverer(IMessageSink sink) : FactDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo attribute)
    {
        if (testMethod.TestClass.Class.Name.Contains("Postgres", StringComparison.Ordinal) && PostgresCluster.MissingReason is { } reason)
            return [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, reason)];
        return base.Discover(options, testMethod, attribute);
    }
}
