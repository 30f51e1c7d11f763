using System.Data;

namespace FhirArchive.Storage.Writing;

/// <summary>The columns of the version table and of each search-index table, as the bulk writer inserts them.</summary>
internal static class RowTables
{
    public static readonly BulkColumn<ResourceVersionRow>[] Versions =
    [
        new("Id", DbType.Int64, r => r.Id),
        new("ResourceType", DbType.String, r => r.ResourceType),
        new("ResourceId", DbType.String, r => r.ResourceId),
        new("Version", DbType.Int32, r => r.Version),
        new("LastUpdated", DbType.Int64, r => r.LastUpdated),
        new("IsDeleted", DbType.Boolean, r => r.IsDeleted),
        new("IsCurrent", DbType.Boolean, r => r.IsCurrent),
        new("Data", DbType.Binary, r => r.Data),
        new("KeyId", DbType.Int32, r => r.KeyId),
    ];

    public static readonly BulkColumn<TokenIndexRow>[] Tokens =
        [.. Common<TokenIndexRow>(), new("System", DbType.String, x => x.System), new("Code", DbType.String, x => x.Code), new("Text", DbType.String, x => x.Text)];

    public static readonly BulkColumn<StringIndexRow>[] Strings =
        [.. Common<StringIndexRow>(), new("Value", DbType.String, x => x.Value), new("Normalized", DbType.String, x => x.Normalized)];

    public static readonly BulkColumn<DateIndexRow>[] Dates =
        [.. Common<DateIndexRow>(), new("Start", DbType.Int64, x => x.Start), new("End", DbType.Int64, x => x.End)];

    public static readonly BulkColumn<NumberIndexRow>[] Numbers =
        [.. Common<NumberIndexRow>(), new("Value", DbType.Double, x => x.Value)];

    public static readonly BulkColumn<QuantityIndexRow>[] Quantities =
        [.. Common<QuantityIndexRow>(), new("Value", DbType.Double, x => x.Value), new("System", DbType.String, x => x.System), new("Code", DbType.String, x => x.Code)];

    public static readonly BulkColumn<ReferenceIndexRow>[] References =
        [.. Common<ReferenceIndexRow>(), new("SourceType", DbType.String, x => x.SourceType), new("TargetType", DbType.String, x => x.TargetType), new("TargetId", DbType.String, x => x.TargetId), new("Url", DbType.String, x => x.Url)];

    public static readonly BulkColumn<UriIndexRow>[] Uris =
        [.. Common<UriIndexRow>(), new("Uri", DbType.String, x => x.Uri)];

    // The index row's own Id is left to the database.
    private static BulkColumn<T>[] Common<T>() where T : IndexRow =>
        [new("ResourceRowId", DbType.Int64, x => x.ResourceRowId), new("Param", DbType.String, x => x.Param),
         new("CompositeGroup", DbType.Int32, x => x.CompositeGroup)];
}
