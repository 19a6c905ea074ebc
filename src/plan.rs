//! The plan: the catalogue expanded for one target into concrete
//! host/port/protocol endpoints. Pure data; building it sends no traffic.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::{Catalogue, EndpointSpec, Expect, Protocol, expand};
use crate::target::{Facts, Target};

/// One concrete thing to probe.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedEndpoint {
    /// Catalogue id (`storage-blob`), with the storage account for per-account entries.
    pub id: String,
    /// Catalogue group (`workspace`, `storage`, `repos`, ...).
    pub group: String,
    /// Fully expanded host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport.
    pub protocol: Protocol,
    /// Private endpoint name or public service.
    pub expect: Expect,
    /// Required for every workspace.
    pub required: bool,
    /// The situation that needs it, when not required.
    pub situation: Option<String>,
    /// Service tag for firewall rules.
    pub service_tag: String,
    /// Why it is needed.
    pub purpose: String,
    /// Sources.
    pub docs: Vec<String>,
    /// The private DNS zone the CNAME chain must pass through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privatelink_zone: Option<String>,
    /// The expected CNAME target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privatelink_name: Option<String>,
    /// The wildcard this concrete host stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stands_for: Option<String>,
    /// Whether a TLS handshake follows the TCP connect.
    pub tls: bool,
    /// Path of the HTTP request after the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_path: Option<String>,
    /// Issuer substrings of the service's genuine certificate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_issuers: Vec<String>,
}

/// A catalogue entry left out of the plan, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Omission {
    /// Catalogue id.
    pub id: String,
    /// What is missing, phrased as what the user can supply.
    pub reason: String,
}

/// The expanded plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    /// The target it was built for.
    pub target: Target,
    /// Endpoints, in catalogue order.
    pub endpoints: Vec<PlannedEndpoint>,
    /// Entries that could not be planned.
    pub omitted: Vec<Omission>,
    /// What the reader of the plan must know about it: names that are a
    /// project's hub's, rules a managed network takes over, a notebooks
    /// host that is a guess, a region amlnet does not list.
    pub notes: Vec<String>,
}

impl Plan {
    /// Expands `catalogue` for a target that is not read from a workspace
    /// document (the lab's, a test's): no facts, and no notes for a reader.
    pub fn build(catalogue: &Catalogue, target: &Target) -> Plan {
        let mut plan = Plan::build_for(catalogue, target, &Facts::default());
        plan.notes.clear();
        plan
    }

    /// Expands `catalogue` for `target`, as what the workspace document
    /// says of it (`facts`) requires: a project's names are its hub's, a
    /// managed network takes the compute's outbound rules, a notebooks host
    /// Azure never made is not invented.
    pub fn build_for(catalogue: &Catalogue, target: &Target, facts: &Facts) -> Plan {
        let mut endpoints: Vec<PlannedEndpoint> = Vec::new();
        let mut omitted = Vec::new();
        let cloud = target.cloud.as_str();
        let base = base_vars(catalogue, target, facts);
        let missing_reason = |var: &str| missing_reason(var, cloud, target, facts);
        for spec in &catalogue.endpoints {
            if spec.clouds.as_ref().is_some_and(|c| !c.iter().any(|x| x == cloud)) {
                omitted.push(Omission { id: spec.id.clone(), reason: format!("not documented for the {cloud} cloud") });
                continue;
            }
            if let Some(need) = spec.needs.iter().find(|n| !base.contains_key(n.as_str())) {
                omitted.push(Omission { id: spec.id.clone(), reason: missing_reason(need) });
                continue;
            }
            let per_account = spec.host.contains("{storage}");
            let accounts: Vec<Option<&String>> =
                if per_account { target.storage_accounts.iter().map(Some).collect() } else { vec![None] };
            if accounts.is_empty() {
                omitted.push(Omission { id: spec.id.clone(), reason: missing_reason("storage") });
                continue;
            }
            for account in accounts {
                // Only per-account entries need their own copy of the values.
                let with_account;
                let vars = match account {
                    Some(a) => {
                        with_account = {
                            let mut v = base.clone();
                            v.insert("storage", a.clone());
                            v
                        };
                        &with_account
                    }
                    None => &base,
                };
                match expand_spec(spec, vars) {
                    Ok(mut list) => {
                        for e in &mut list {
                            if let Some(a) = account {
                                e.id = format!("{}[{a}]", e.id);
                            }
                            if let (true, Some(mode)) = (spec.compute, &facts.managed_network) {
                                e.required = false;
                                e.situation = Some(format!(
                                    "not this machine's: the workspace's managed network ({mode}) gives its compute this outbound access"
                                ));
                            }
                        }
                        endpoints.extend(list)
                    }
                    Err(var) => {
                        omitted.push(Omission { id: spec.id.clone(), reason: missing_reason(var) });
                        break;
                    }
                }
            }
        }
        let notes = notes(catalogue, target, facts, &endpoints);
        Plan { target: target.clone(), endpoints, omitted, notes }
    }

    /// [`Plan::build_for`], refusing a plan with a host name that is not one
    /// (see [`Plan::build_checked`]).
    pub fn build_checked_for(catalogue: &Catalogue, target: &Target, facts: &Facts) -> anyhow::Result<Plan> {
        let plan = Plan::build_for(catalogue, target, facts);
        plan.check_hosts()?;
        Ok(plan)
    }

    /// [`Plan::build`], refusing the input when an expanded host name is not
    /// a host name (a label over 63 characters once the values are filled
    /// in, a name over 253): the error names the catalogue entry and the host.
    pub fn build_checked(catalogue: &Catalogue, target: &Target) -> anyhow::Result<Plan> {
        let plan = Plan::build(catalogue, target);
        plan.check_hosts()?;
        Ok(plan)
    }

    /// Every planned host name is a valid host name.
    pub fn check_hosts(&self) -> anyhow::Result<()> {
        let mut checked = std::collections::BTreeSet::new();
        for e in &self.endpoints {
            if !checked.insert(e.host.as_str()) {
                continue;
            }
            crate::hostname::validate(&e.host, false).map_err(|why| {
                anyhow::anyhow!("catalogue entry '{}': {why}", crate::term::escape_for_terminal(&e.id))
            })?;
        }
        Ok(())
    }

    /// Distinct host names, in plan order.
    pub fn hosts(&self) -> Vec<&str> {
        let mut seen = std::collections::BTreeSet::new();
        self.endpoints.iter().map(|e| e.host.as_str()).filter(|h| seen.insert(*h)).collect()
    }

    /// Keeps only the endpoints `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&PlannedEndpoint) -> bool) {
        self.endpoints.retain(keep);
    }
}

fn base_vars<'a>(catalogue: &'a Catalogue, target: &Target, facts: &Facts) -> BTreeMap<&'a str, String> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    if let Some(names) = catalogue.cloud(target.cloud) {
        for (k, v) in &names.names {
            vars.insert(k.as_str(), v.clone());
        }
    }
    let mut put = |k: &'static str, v: &Option<String>| {
        if let Some(v) = v {
            vars.insert(k, v.clone());
        }
    };
    put("workspace_id", &target.workspace_id);
    put("workspace_name", &target.workspace_name);
    put("region", &target.region);
    put("key_vault", &target.key_vault);
    put("acr", &target.container_registry);
    put("app_insights", &target.app_insights);
    put("compute_instance", &target.compute_instance);
    // A notebooks host the document says Azure never made is not invented.
    if facts.notebook_absent.is_none() {
        put("notebook_label", &target.notebook_label());
        put("notebook_host", &notebook_host(catalogue, target));
    }
    vars
}

/// The notebooks host: the document's, or derived from the name (a guess).
fn notebook_host(catalogue: &Catalogue, target: &Target) -> Option<String> {
    target.notebook_host.clone().or_else(|| {
        let label = target.notebook_label()?;
        let suffix = catalogue.cloud(target.cloud)?.names.get("notebooks_suffix")?;
        Some(format!("{label}.{}.{suffix}", target.region.as_ref()?))
    })
}

/// The plan's notes: the document's, then what the plan had to assume.
fn notes(catalogue: &Catalogue, target: &Target, facts: &Facts, endpoints: &[PlannedEndpoint]) -> Vec<String> {
    let mut notes = facts.notes.clone();
    if facts.is_project() {
        let hub = facts.hub_id.as_deref().map(|id| id.trim_end_matches('/').rsplit('/').next().unwrap_or(id));
        // The hub's id and the file it came from are the user's text: printable only.
        let hub = hub.map(|h| format!(" '{}'", crate::term::escape_for_terminal(h))).unwrap_or_default();
        notes.push(match facts.hub_names_from.as_deref().map(crate::term::escape_for_terminal) {
            Some(from) => format!(
                "this workspace is a project of the hub{hub}: it uses the hub's storage account, Key Vault, container registry and private endpoints, so the storage, Key Vault and registry names planned are the hub's (from {from}); the project's own API and notebooks names resolve through the hub's private endpoint"
            ),
            None => format!(
                "this workspace is a project of the hub{hub}: it uses the hub's storage account, Key Vault, container registry and private endpoints, and its document does not name them: give --hub-json FILE with the hub's JSON (az resource show --ids <hubResourceId> -o json)"
            ),
        });
    }
    if let Some(mode) = &facts.managed_network {
        notes.push(format!(
            "the workspace has a managed network ({mode}): its compute runs in a Microsoft-managed network that gives it Batch, UDP 5831, Microsoft Container Registry and the other compute outbound rules, so those are marked not required for this machine; this machine still needs the workspace's private endpoints"
        ));
    }
    if target.notebook_host.is_none()
        && facts.notebook_absent.is_none()
        && let Some(host) = notebook_host(catalogue, target)
        && endpoints.iter().any(|e| e.host == host)
    {
        let name = target.workspace_name.as_deref().unwrap_or_default();
        let dropped = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            String::new()
        } else {
            format!(
                " (the characters of '{name}' that are not letters, digits or '-' were dropped, which no public sample confirms)"
            )
        };
        notes.push(format!(
            "the notebooks host {host} is derived from the workspace name, region and GUID, not read from the workspace: a guess{dropped}; the real one: az resource show --ids <workspace ARM id> --query properties.notebookInfo.fqdn -o tsv"
        ));
    }
    notes
}

fn expand_spec<'a>(spec: &'a EndpointSpec, vars: &BTreeMap<&str, String>) -> Result<Vec<PlannedEndpoint>, &'a str> {
    let host = expand(&spec.host, vars)?.to_ascii_lowercase();
    let opt = |t: &'a Option<String>| t.as_deref().map(|t| expand(t, vars)).transpose();
    // The expected CNAME target is shown and used by the lab, but the verdict
    // rests on the zone: a name whose target needs an unknown value is still planned.
    let privatelink_name = opt(&spec.privatelink_name).ok().flatten().map(|s| s.to_ascii_lowercase());
    let privatelink_zone = opt(&spec.privatelink_zone)?.map(|s| s.to_ascii_lowercase());
    let stands_for = opt(&spec.stands_for)?;
    let service_tag = expand(&spec.service_tag, vars)?;
    let http_path = opt(&spec.http)?;
    Ok(spec
        .ports
        .iter()
        .map(|p| {
            // HTTPS is TCP 443 unless the entry says otherwise; nothing else gets TLS.
            let tls = p.protocol == Protocol::Tcp && p.port == 443 && spec.tls != Some(false);
            (p, tls)
        })
        .map(|(p, tls)| PlannedEndpoint {
            id: spec.id.clone(),
            group: spec.group.clone(),
            host: host.clone(),
            port: p.port,
            protocol: p.protocol,
            expect: spec.expect,
            required: spec.required,
            situation: spec.situation.clone(),
            service_tag: service_tag.clone(),
            purpose: spec.purpose.clone(),
            docs: spec.docs.clone(),
            privatelink_zone: privatelink_zone.clone(),
            privatelink_name: privatelink_name.clone(),
            stands_for: stands_for.clone(),
            tls,
            http_path: if tls { http_path.clone() } else { None },
            expected_issuers: spec.expected_issuers.clone().unwrap_or_default(),
        })
        .collect())
}

/// Turns a missing placeholder into what the user can do about it.
fn missing_reason(var: &str, cloud: &str, target: &Target, facts: &Facts) -> String {
    let hub_flag = "give --hub-json FILE with the hub's JSON (az resource show --ids <hubResourceId> -o json)";
    match var {
        "notebook_host" | "notebook_label" if facts.notebook_absent.is_some() => {
            facts.notebook_absent.clone().unwrap_or_default()
        }
        "storage" if facts.is_project() => format!("a project uses its hub's storage account: {hub_flag}, or --storage"),
        "key_vault" if facts.is_project() => format!("a project uses its hub's Key Vault: {hub_flag}, or --key-vault"),
        "acr" if facts.no_registry => {
            "the workspace has no container registry of its own (containerRegistry is null: Azure ML creates one at the first image build); give --acr if it uses one".into()
        }
        "acr" if facts.is_project() => format!("a project uses its hub's container registry: {hub_flag}, or --acr"),
        "region" if target.region.is_none() && facts.is_project() => format!("needs --region, or {hub_flag}"),
        "workspace_id" => "needs --workspace-id (the workspace GUID: az resource show --ids <workspace ARM id> --query properties.workspaceId -o tsv)".into(),
        "workspace_name" => "needs --workspace-name".into(),
        "region" => "needs --region".into(),
        "storage" => "needs --storage".into(),
        "key_vault" => "needs --key-vault".into(),
        "acr" => "needs --acr".into(),
        "app_insights" => "needs --app-insights".into(),
        "compute_instance" => "needs --compute-instance".into(),
        "notebook_host" | "notebook_label" => "needs --workspace-name, --workspace-id and --region (or the ARM JSON's notebookInfo.fqdn)".into(),
        other => format!("'{other}' is not documented for the {cloud} cloud"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Cloud;

    fn lab_like(cloud: Cloud) -> Target {
        Target {
            cloud,
            workspace_id: Some("6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f".into()),
            workspace_name: Some("mlw".into()),
            region: Some("eastus".into()),
            storage_accounts: vec!["sta".into(), "stb".into()],
            key_vault: Some("kv".into()),
            container_registry: Some("acr1".into()),
            ..Target::default()
        }
    }

    #[test]
    fn storage_expands_per_account_and_ids_stay_unique() {
        let plan = Plan::build(Catalogue::builtin(), &lab_like(Cloud::Public));
        assert!(plan.endpoints.iter().any(|e| e.host == "sta.blob.core.windows.net"));
        assert!(plan.endpoints.iter().any(|e| e.host == "stb.blob.core.windows.net"));
        let mut keys: Vec<_> = plan.endpoints.iter().map(|e| (e.id.clone(), e.port, e.protocol)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn china_has_no_acr_and_says_why() {
        let plan = Plan::build(Catalogue::builtin(), &lab_like(Cloud::China));
        assert!(!plan.endpoints.iter().any(|e| e.id == "acr-login"));
        let o = plan.omitted.iter().find(|o| o.id == "acr-login").unwrap();
        assert!(o.reason.contains("china"), "{}", o.reason);
    }

    #[test]
    fn missing_guid_names_the_flag() {
        let mut t = lab_like(Cloud::Public);
        t.workspace_id = None;
        let plan = Plan::build(Catalogue::builtin(), &t);
        let o = plan.omitted.iter().find(|o| o.id == "workspace-api").unwrap();
        assert!(o.reason.contains("--workspace-id"));
    }
}
