using System.Globalization;

namespace FhirArchive.Fhir.Model;

/// <summary>
/// A FHIR instant as the server writes it: UTC with "Z". <see cref="Of"/> to the millisecond, the precision the store
/// keeps (meta.lastUpdated, Bundle timestamps, Provenance.recorded), so what is shown is exactly what is stored and
/// compared; <see cref="ToSecond"/> for the times people read (consent periods, expiries, message times).
/// </summary>
public static class FhirInstant
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
    private const string SecondFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";

    public static string Of(DateTimeOffset t) => t.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    public static string ToSecond(DateTimeOffset t) => t.UtcDateTime.ToString(SecondFormat, CultureInfo.InvariantCulture);
}
