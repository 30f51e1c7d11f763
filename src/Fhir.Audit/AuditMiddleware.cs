using FhirArchive.Rest.Access;
using FhirArchive.Storage;

namespace FhirArchive.Audit;

/// <summary>
/// Audits every FHIR interaction, denials included: the event is built when the response is about to start
/// (status known, the disclosed resources reported by <see cref="ReadGuard"/>) and stored before a byte leaves.
/// Sits before authentication in the pipeline, so a refused token is audited too.
/// </summary>
public sealed class AuditMiddleware(RequestDelegate next, AuditTrail trail, PatientLinks patients, TimeProvider clock,
    Storage.Encryption.FieldEncryption encryption)
{
    private const int MaxResources = 100;
    private const int MaxDenialsNamed = 20;

    public async Task InvokeAsync(HttpContext http)
    {
        if (!RequestRoute.IsAudited(http))
        {
            await next(http);
            return;
        }
        // Named now, while the routing's answer is there (an exception handler clears it before the response starts).
        RequestRoute.InteractionOf(http);
        var recorder = new Recorder(patients);
        http.Features.Set<IAccessRecorder>(recorder);
        http.Response.OnStarting(() => RecordAsync(http, recorder));
        await next(http);
    }

    private Task RecordAsync(HttpContext http, Recorder recorder)
    {
        var req = http.Request;
        var interaction = RequestRoute.InteractionOf(http);
        var caller = http.GetCaller();
        // A refused or missing read of a Patient still names the patient it was aimed at.
        IReadOnlyCollection<string> patientsAbout = recorder.Patients.Count > 0 ? recorder.Patients
            : interaction is { Type: "Patient", Id: { } id } ? [$"Patient/{id}"] : [];
        var draft = new AuditDraft(null, clock.GetUtcNow(), interaction, http.Response.StatusCode, caller,
            http.Connection.RemoteIpAddress?.ToString(), QueryOf(http, interaction, encryption), recorder.Resources, patientsAbout,
            Decisions: recorder.Decisions());
        // A patient's data is searched through its patient; only resources of no patient are keys of their own.
        var entities = new List<(string Role, string Reference)>(patientsAbout.Count + recorder.Resources.Count);
        foreach (var p in patientsAbout) entities.Add(("patient", p));
        foreach (var (reference, ofPatient) in recorder.Entities) entities.Add((ofPatient ? "data" : "resource", reference));
        return trail.RecordAsync(draft, entities).AsTask();
    }

    /// <summary>Searches (GET query or POST form) and operations carry their parameters, as BALP's query entity asks.</summary>
    /// <summary>Searched identifiers, phones and ID card numbers are kept blinded or masked, never in clear (<see cref="ProtectedQuery"/>).</summary>
    private static string? QueryOf(HttpContext http, Interaction interaction, Storage.Encryption.FieldEncryption encryption)
    {
        var req = http.Request;
        var query = req.QueryString.HasValue ? req.QueryString.Value : "";
        // Only a POST carries a form (a search's parameters): other requests skip looking for one.
        if (HttpMethods.IsPost(req.Method) && req.HasFormContentType && req.Form is { Count: > 0 } form)
            query += (query!.Length == 0 ? "?" : "&") + string.Join('&', form.SelectMany(kv => kv.Value.Select(v => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(v ?? "")}")));
        if (string.IsNullOrEmpty(query) && interaction.Code is not ("search-type" or "search-system" or "operation")) return null;
        return $"{req.Method} {req.Path}{ProtectedQuery.Mask(query ?? "", interaction.Type, encryption)}";
    }

    /// <summary>What one request disclosed or wrote (bounded: a big search names its first resources and their patients).</summary>
    private sealed class Recorder(PatientLinks patients) : IAccessRecorder
    {
        private readonly HashSet<string> _resources = [];
        private readonly HashSet<string> _patients = [];
        private readonly Dictionary<string, bool> _entities = [];
        public IReadOnlyCollection<string> Resources => _resources;
        public IReadOnlyCollection<string> Patients => _patients;
        /// <summary>Each resource (without version) and whether it is some patient's data.</summary>
        public IReadOnlyDictionary<string, bool> Entities => _entities;

        public void Shown(StoredResource r) => Add(r);

        public void About(StoredResource r, IReadOnlyCollection<string> patients)
        {
            lock (_resources)
            {
                foreach (var p in patients) _patients.Add(p);
                var reference = $"{r.ResourceType}/{r.Id}";
                if (_entities.ContainsKey(reference)) _entities[reference] = true;
            }
        }
        public void Written(StoredResource r) => Add(r);

        // Access decisions: permits counted by reason, denials named (the first few) with theirs.
        private Dictionary<string, int>? _permits;
        private List<string>? _denials;
        private int _denied;

        public void Decided(StoredResource r, bool permitted, string reason)
        {
            lock (_resources)
            {
                if (permitted)
                {
                    _permits ??= [];
                    _permits[reason] = _permits.GetValueOrDefault(reason) + 1;
                    return;
                }
                _denied++;
                if ((_denials ??= []).Count < MaxDenialsNamed) _denials.Add($"deny {r.ResourceType}/{r.Id}: {reason}");
            }
        }

        public IReadOnlyCollection<string>? Decisions()
        {
            lock (_resources)
            {
                if (_permits is null && _denials is null) return null;
                var all = new List<string>();
                foreach (var (reason, n) in _permits ?? []) all.Add($"permit ×{n}: {reason}");
                all.AddRange(_denials ?? []);
                if (_denied > MaxDenialsNamed) all.Add($"deny ×{_denied - MaxDenialsNamed} more");
                return all;
            }
        }

        private void Add(StoredResource r)
        {
            lock (_resources)
            {
                if (_resources.Count >= MaxResources) return;
                _resources.Add($"{r.ResourceType}/{r.Id}/_history/{r.Version}");
                var of = patients.PatientsOf(r);
                foreach (var p in of) _patients.Add(p);
                var reference = $"{r.ResourceType}/{r.Id}";
                _entities[reference] = _entities.GetValueOrDefault(reference) || of.Count > 0;
            }
        }
    }
}
