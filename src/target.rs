//! The target: which workspace, in which cloud and region, with which
//! dependent resources. Built from `az` JSON, from flags, or from a compute
//! instance's own environment; flags win over JSON. Also what the document
//! says about the workspace's shape ([`Facts`]: hub or project, managed
//! network, a notebooks host Azure never made) that changes the plan.

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::Value;

pub use crate::cloud::Cloud;

/// Everything amlnet knows about the workspace it checks.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Target {
    /// The cloud the workspace lives in.
    pub cloud: Cloud,
    /// The workspace GUID (`properties.workspaceId`), needed for the API hosts.
    pub workspace_id: Option<String>,
    /// The workspace resource name.
    pub workspace_name: Option<String>,
    /// The region, normalised (`eastus`).
    pub region: Option<String>,
    /// Storage account names (the default one first).
    pub storage_accounts: Vec<String>,
    /// Key Vault name.
    pub key_vault: Option<String>,
    /// Container registry name.
    pub container_registry: Option<String>,
    /// Application Insights resource name.
    pub app_insights: Option<String>,
    /// A compute instance name, for its host names.
    pub compute_instance: Option<String>,
    /// The notebooks host as the ARM resource gives it (`notebookInfo.fqdn`).
    pub notebook_host: Option<String>,
    /// Where the target came from, for the report (`flags`, a file name, `compute-instance`).
    pub sources: Vec<String>,
}

/// Target values given as flags; each overrides the same value read from JSON.
#[derive(Debug, Clone, Default)]
pub struct TargetFlags {
    pub cloud: Option<Cloud>,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub region: Option<String>,
    pub storage_accounts: Vec<String>,
    pub key_vault: Option<String>,
    pub container_registry: Option<String>,
    pub app_insights: Option<String>,
    pub compute_instance: Option<String>,
}

impl TargetFlags {
    fn is_empty(&self) -> bool {
        self.cloud.is_none()
            && self.workspace_id.is_none()
            && self.workspace_name.is_none()
            && self.region.is_none()
            && self.storage_accounts.is_empty()
            && self.key_vault.is_none()
            && self.container_registry.is_none()
            && self.app_insights.is_none()
            && self.compute_instance.is_none()
    }
}

/// What a workspace document says beyond names, kept apart from [`Target`]
/// (whose fields are the report's `target` object): the plan reads it to
/// leave out, relabel or explain entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// `hub`, `project` or `default` (ARM `kind`, CLI v2 `kind`), lowercased.
    pub kind: Option<String>,
    /// A project's hub (ARM `properties.hubResourceId`, CLI v2 `hub_id`).
    pub hub_id: Option<String>,
    /// The managed network's isolation mode (`AllowInternetOutbound`,
    /// `AllowOnlyApprovedOutbound`); `None` when there is none or it is disabled.
    pub managed_network: Option<String>,
    /// Why there is no notebooks host: the document says so (`notebookInfo`
    /// or its `fqdn` null) or the workspace is a hub.
    pub notebook_absent: Option<String>,
    /// Where the storage, Key Vault, registry and Application Insights names
    /// of a project came from: they are its hub's.
    pub hub_names_from: Option<String>,
    /// The document says the workspace has no container registry
    /// (`containerRegistry: null`): Azure ML makes one at the first image build.
    pub no_registry: bool,
    /// Remarks for the plan, in the order they arose.
    pub notes: Vec<String>,
}

impl Facts {
    /// Whether the workspace is a project of a hub.
    pub fn is_project(&self) -> bool {
        self.kind.as_deref() == Some("project") || self.hub_id.is_some()
    }
}

impl Target {
    /// Builds the target from an optional workspace JSON document (already
    /// read; `source` names it in errors), flags, and, when neither names a
    /// workspace, the compute instance's environment (`env`).
    pub fn resolve(
        json: Option<(&str, &str)>,
        flags: &TargetFlags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target> {
        Target::resolve_with(json, None, flags, env, crate::catalogue::Catalogue::builtin()).map(|(t, _)| t)
    }

    /// [`Target::resolve`] with a project's hub document (`--hub-json`,
    /// already read) and the catalogue whose cloud table knows the regions
    /// (the built-in one plus a `--probes` `clouds.toml`).
    pub fn resolve_with(
        json: Option<(&str, &str)>,
        hub_json: Option<(&str, &str)>,
        flags: &TargetFlags,
        env: &dyn Fn(&str) -> Option<String>,
        catalogue: &crate::catalogue::Catalogue,
    ) -> Result<(Target, Facts)> {
        let (mut target, mut facts) = match json {
            Some((source, text)) => {
                let (mut t, f) = read_workspace_json(text).with_context(|| source.to_string())?;
                t.validate(Origin::Document).with_context(|| source.to_string())?;
                t.sources.push(source.to_string());
                (t, f)
            }
            None if flags.is_empty() && hub_json.is_none() => match from_compute_instance_env(env) {
                Some(mut t) => {
                    t.validate(Origin::Document)
                        .context("compute instance environment (MLFLOW_TRACKING_URI, CI_NAME)")?;
                    (t, Facts::default())
                }
                None => (Target::default(), Facts::default()),
            },
            None => (Target::default(), Facts::default()),
        };
        if let Some((source, text)) = hub_json {
            apply_hub(&mut target, &mut facts, source, text)?;
        }
        target.apply_flags(flags)?;
        // A region named for its cloud decides the cloud when nothing else did.
        if flags.cloud.is_none()
            && target.cloud == Cloud::Public
            && let Some(cloud) = target.region.as_deref().and_then(Cloud::of_region)
        {
            target.cloud = cloud;
        }
        target.validate(Origin::Flags)?;
        if let Some(region) = target.region.clone()
            && !catalogue.known_region(target.cloud, &region)
        {
            match catalogue.cloud_of_region(&region) {
                // A region of another cloud contradicts the cloud: that is bad input.
                Some(other) if flags.region.is_some() => bail!(
                    "--region: unknown region '{region}' for the {} cloud (it is a region of the {other} cloud; give --cloud {other})",
                    target.cloud
                ),
                // A region the user did not type is not blamed on --region.
                Some(other) => bail!(
                    "the workspace's region '{region}' is not a region of the {} cloud{} (it is a region of the {other} cloud; give --cloud or --region)",
                    target.cloud,
                    if flags.cloud.is_some() { " given with --cloud" } else { "" }
                ),
                // A region newer than amlnet's list is planned as given, with a note.
                None => facts.notes.push(format!(
                    "region '{region}' is not in amlnet's list of {} cloud regions (probes/clouds.toml, or a clouds.toml given with --probes): it is planned as given; a misspelt region shows up as names that do not resolve",
                    target.cloud
                )),
            }
        }
        Ok((target, facts))
    }

    fn apply_flags(&mut self, flags: &TargetFlags) -> Result<()> {
        if !flags.is_empty() {
            self.sources.push("flags".into());
        }
        if let Some(c) = flags.cloud {
            self.cloud = c;
        }
        let set = |slot: &mut Option<String>, value: &Option<String>| {
            if let Some(v) = value {
                *slot = Some(v.trim().to_string());
            }
        };
        set(&mut self.workspace_id, &flags.workspace_id);
        set(&mut self.workspace_name, &flags.workspace_name);
        set(&mut self.key_vault, &flags.key_vault);
        set(&mut self.container_registry, &flags.container_registry);
        set(&mut self.app_insights, &flags.app_insights);
        set(&mut self.compute_instance, &flags.compute_instance);
        if let Some(r) = &flags.region {
            self.region = Some(normalise_region(r));
        }
        if !flags.storage_accounts.is_empty() {
            self.storage_accounts = flags.storage_accounts.iter().map(|s| s.trim().to_string()).collect();
        }
        Ok(())
    }

    /// Rejects values that cannot be part of a real Azure host name, so a
    /// typo is caught here rather than reported as forty DNS failures.
    fn validate(&mut self, origin: Origin) -> Result<()> {
        let label = |field: Field| origin.label(field);
        if let Some(id) = &self.workspace_id {
            let id = id.to_ascii_lowercase();
            if !is_guid(&id) {
                bail!(
                    "{}: '{}' is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                    label(Field::WorkspaceId),
                    crate::term::escape_for_terminal(&id)
                );
            }
            self.workspace_id = Some(id);
        }
        // Whether the region is one the cloud has is judged against the
        // catalogue's table afterwards; here only that it can be one: letters
        // and digits, and short enough that the notebooks host still fits
        // (the longest region today has 18 characters).
        if let Some(region) = &self.region
            && (region.is_empty() || region.len() > 22 || !region.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            bail!(
                "{}: unknown region '{}' (expected a name such as eastus: letters and digits; `az account list-locations -o table` lists them)",
                label(Field::Region),
                crate::term::escape_for_terminal(region)
            );
        }
        for s in &mut self.storage_accounts {
            *s = s.to_ascii_lowercase();
            if !(3..=24).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                bail!(
                    "{}: '{s}' is not a storage account name (3-24 lowercase letters and digits)",
                    label(Field::Storage)
                );
            }
        }
        if let Some(host) = &self.notebook_host {
            crate::hostname::validate(host, false).map_err(|why| anyhow!("notebookInfo.fqdn: {why}"))?;
        }
        check_label(label(Field::WorkspaceName), &mut self.workspace_name, 1, 33, true)?;
        check_label(label(Field::KeyVault), &mut self.key_vault, 3, 24, true)?;
        check_label(label(Field::Acr), &mut self.container_registry, 5, 50, false)?;
        check_label(label(Field::AppInsights), &mut self.app_insights, 1, 260, true)?;
        check_label(label(Field::ComputeInstance), &mut self.compute_instance, 2, 24, true)?;
        Ok(())
    }

    /// The notebooks host's first label: from the ARM resource when known
    /// (`notebookInfo.fqdn`), otherwise derived by [`derived_notebook_label`].
    pub fn notebook_label(&self) -> Option<String> {
        if let Some(fqdn) = &self.notebook_host {
            return fqdn.split('.').next().map(str::to_string);
        }
        let (name, region, id) = (self.workspace_name.as_ref()?, self.region.as_ref()?, self.workspace_id.as_ref()?);
        Some(derived_notebook_label(name, region, id))
    }
}

/// The first label of the notebooks host Azure gives a workspace, when the
/// document does not carry it: `ml-<name>-<region>-<guid>`, where `<name>` is
/// the workspace name lowercased, with every character that is not a letter,
/// a digit or `-` dropped, then cut so that the label is at most 63
/// characters (FACTS.md [DNS]). Real `notebookInfo.fqdn` values this was
/// checked against (workspace name -> label; `tests/fixtures/workspaces/README.md`
/// lists their sources):
///
/// - `mlworkspace-portal02`, eastus -> `ml-mlworkspace-port-eastus-03ce50c0-…` (cut at 63, `-` kept)
/// - `mlw-mlops-stg-weu-01`, westeurope -> `ml-mlw-mlops-st-westeurope-9332539b-…` (cut at 63)
/// - `acctest5076`, westeurope -> `ml-acctest5076-westeurope-130c4f07-…`
/// - `myworkspace`, eastus -> `ml-myworkspace-eastus-fb7e20a0-…` (how-to-custom-dns)
///
/// No public sample has an underscore in the name: that `_` is dropped is
/// what Azure's names show (a DNS label of a host name has none), not
/// something a sample confirms, so the plan calls a derived host a guess.
pub fn derived_notebook_label(name: &str, region: &str, id: &str) -> String {
    let fixed = 3 + 1 + region.len() + 1 + id.len();
    let room = 63usize.saturating_sub(fixed);
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .take(room)
        .collect();
    format!("ml-{name}-{region}-{id}")
}

/// Where a target value came from, so an error names what the user typed.
#[derive(Clone, Copy)]
enum Origin {
    /// A command-line flag.
    Flags,
    /// A workspace JSON document or the compute instance's environment.
    Document,
}

#[derive(Clone, Copy)]
enum Field {
    WorkspaceId,
    WorkspaceName,
    Region,
    Storage,
    KeyVault,
    Acr,
    AppInsights,
    ComputeInstance,
}

impl Origin {
    fn label(self, field: Field) -> &'static str {
        match (self, field) {
            (Origin::Flags, Field::WorkspaceId) => "--workspace-id",
            (Origin::Flags, Field::WorkspaceName) => "--workspace-name",
            (Origin::Flags, Field::Region) => "--region",
            (Origin::Flags, Field::Storage) => "--storage",
            (Origin::Flags, Field::KeyVault) => "--key-vault",
            (Origin::Flags, Field::Acr) => "--acr",
            (Origin::Flags, Field::AppInsights) => "--app-insights",
            (Origin::Flags, Field::ComputeInstance) => "--compute-instance",
            (Origin::Document, Field::WorkspaceId) => "workspace GUID (workspaceId)",
            (Origin::Document, Field::WorkspaceName) => "workspace name",
            (Origin::Document, Field::Region) => "location",
            (Origin::Document, Field::Storage) => "storage account",
            (Origin::Document, Field::KeyVault) => "Key Vault name",
            (Origin::Document, Field::Acr) => "container registry name",
            (Origin::Document, Field::AppInsights) => "Application Insights name",
            (Origin::Document, Field::ComputeInstance) => "compute instance name (CI_NAME)",
        }
    }
}

fn check_label(flag: &str, value: &mut Option<String>, min: usize, max: usize, hyphen: bool) -> Result<()> {
    if let Some(v) = value {
        *v = v.to_ascii_lowercase();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || (hyphen && (c == '-' || c == '_'));
        if !(min..=max).contains(&v.len()) || !v.chars().all(ok_char) || v.starts_with('-') || v.ends_with('-') {
            bail!("{flag}: '{v}' is not a valid resource name");
        }
    }
    Ok(())
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `East US` and `eastus` name the same region.
pub fn normalise_region(region: &str) -> String {
    region.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase()
}

/// The last segment of an ARM ID (`.../storageAccounts/stfoo` -> `stfoo`).
/// A bare name is accepted as it is.
fn name_from_arm_id(field: &str, id: &str) -> Result<String> {
    let id = id.trim().trim_end_matches('/');
    let name = id.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        bail!("field '{field}': '{id}' is not an ARM resource ID");
    }
    Ok(name.to_string())
}

/// Reads `az ml workspace show -o json` (CLI v2, snake_case) or
/// `az resource show` (ARM, camelCase under `properties`).
pub fn from_workspace_json(text: &str) -> Result<Target> {
    read_workspace_json(text).map(|(t, _)| t)
}

/// [`from_workspace_json`] with what the document says about the
/// workspace's shape: hub or project, managed network, no notebooks host.
pub fn read_workspace_json(text: &str) -> Result<(Target, Facts)> {
    if text.trim().is_empty() {
        bail!("the file is empty (expected the JSON of `az ml workspace show -o json`)");
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| anyhow!("not valid JSON: {e}"))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| anyhow!("expected a JSON object describing a workspace, found {}", kind_of(&doc)))?;
    let str_at = |v: &Value, key: &str| -> Result<Option<String>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => bail!("field '{key}' should be a string, found {}", kind_of(other)),
        }
    };
    let mut t = Target::default();
    let mut facts = Facts { kind: str_at(&doc, "kind")?.map(|k| k.to_ascii_lowercase()), ..Facts::default() };
    // `containerRegistry: null` means the workspace has no registry of its own yet.
    let registry_field_present;
    if let Some(props) = obj.get("properties") {
        if !props.is_object() {
            bail!("field 'properties' should be an object, found {}", kind_of(props));
        }
        if let Some(kind) = str_at(&doc, "type")?
            && !kind.eq_ignore_ascii_case("Microsoft.MachineLearningServices/workspaces")
        {
            bail!("this is a '{kind}' resource, not an Azure Machine Learning workspace");
        }
        t.workspace_name = str_at(&doc, "name")?;
        t.region = str_at(&doc, "location")?.map(|r| normalise_region(&r));
        t.workspace_id = str_at(props, "workspaceId")?;
        if let Some(id) = str_at(props, "storageAccount")? {
            t.storage_accounts.push(name_from_arm_id("properties.storageAccount", &id)?);
        }
        // 2023-style hubs list their dependencies in arrays instead.
        if t.storage_accounts.is_empty() {
            t.storage_accounts = names_in_array(props, "storageAccounts")?;
        }
        t.key_vault = str_at(props, "keyVault")?.map(|id| name_from_arm_id("properties.keyVault", &id)).transpose()?;
        if t.key_vault.is_none() {
            t.key_vault = names_in_array(props, "keyVaults")?.into_iter().next();
        }
        t.container_registry = str_at(props, "containerRegistry")?
            .map(|id| name_from_arm_id("properties.containerRegistry", &id))
            .transpose()?;
        if t.container_registry.is_none() {
            t.container_registry = names_in_array(props, "containerRegistries")?.into_iter().next();
        }
        t.app_insights = str_at(props, "applicationInsights")?
            .map(|id| name_from_arm_id("properties.applicationInsights", &id))
            .transpose()?;
        registry_field_present = props.get("containerRegistry").is_some() || props.get("containerRegistries").is_some();
        match props.get("notebookInfo") {
            // Absent (an older or trimmed document): the host is derived, and the plan says it is a guess.
            None => {}
            Some(Value::Null) => {
                facts.notebook_absent = Some(
                    "the workspace document's properties.notebookInfo is null: Azure made no notebooks host for this workspace, and amlnet does not invent one".into(),
                )
            }
            Some(nb) => {
                t.notebook_host = str_at(nb, "fqdn")?.map(|s| s.to_ascii_lowercase());
                if t.notebook_host.is_none() {
                    facts.notebook_absent = Some(
                        "the workspace document's properties.notebookInfo.fqdn is null: Azure made no notebooks host for this workspace, and amlnet does not invent one".into(),
                    );
                }
            }
        }
        if let Some(url) = str_at(props, "discoveryUrl")? {
            t.cloud = cloud_from_url(&url).unwrap_or_default();
        }
        facts.hub_id = str_at(props, "hubResourceId")?;
        if let Some(mn) = props.get("managedNetwork").filter(|v| !v.is_null()) {
            facts.managed_network = isolation_mode(str_at(mn, "isolationMode")?);
        }
    } else if obj.contains_key("location") || obj.contains_key("storage_account") || obj.contains_key("discovery_url") {
        t.workspace_name = str_at(&doc, "name")?;
        t.region = str_at(&doc, "location")?.map(|r| normalise_region(&r));
        // CLI v2 has no workspace GUID field (FACTS.md); accept one if a future version adds it.
        t.workspace_id = str_at(&doc, "workspace_id")?;
        if let Some(id) = str_at(&doc, "storage_account")? {
            t.storage_accounts.push(name_from_arm_id("storage_account", &id)?);
        }
        t.key_vault = str_at(&doc, "key_vault")?.map(|id| name_from_arm_id("key_vault", &id)).transpose()?;
        t.container_registry =
            str_at(&doc, "container_registry")?.map(|id| name_from_arm_id("container_registry", &id)).transpose()?;
        t.app_insights = str_at(&doc, "application_insights")?
            .map(|id| name_from_arm_id("application_insights", &id))
            .transpose()?;
        if let Some(url) = str_at(&doc, "discovery_url")? {
            t.cloud = cloud_from_url(&url).unwrap_or_default();
        }
        registry_field_present = obj.contains_key("container_registry");
        facts.hub_id = str_at(&doc, "hub_id")?;
        if let Some(mn) = obj.get("managed_network").filter(|v| !v.is_null()) {
            facts.managed_network = isolation_mode(str_at(mn, "isolation_mode")?);
        }
    } else {
        bail!(
            "JSON of the wrong shape: neither `az ml workspace show` (no 'location') nor `az resource show` (no 'properties')"
        );
    }
    if t.region.is_none() {
        bail!("no 'location' field: cannot tell the workspace's region");
    }
    if t.cloud == Cloud::Public
        && let Some(cloud) = t.region.as_deref().and_then(Cloud::of_region)
    {
        t.cloud = cloud;
    }
    if facts.kind.as_deref() == Some("hub") && t.notebook_host.is_none() && facts.notebook_absent.is_none() {
        facts.notebook_absent = Some(
            "the workspace is a hub: its document names no notebooks host (each of its projects has its own), and amlnet does not invent one".into(),
        );
    }
    if facts.is_project() && (!t.storage_accounts.is_empty() || t.key_vault.is_some() || t.container_registry.is_some())
    {
        facts.hub_names_from = Some("the project's own document".into());
    }
    facts.no_registry = registry_field_present && t.container_registry.is_none();
    Ok((t, facts))
}

/// `AllowInternetOutbound` / `allow_internet_outbound` and the approved-only
/// mode; `Disabled` (or anything unknown) is no managed network.
fn isolation_mode(mode: Option<String>) -> Option<String> {
    let key: String = mode?.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    match key.as_str() {
        "allowinternetoutbound" => Some("AllowInternetOutbound".into()),
        "allowonlyapprovedoutbound" => Some("AllowOnlyApprovedOutbound".into()),
        _ => None,
    }
}

/// Fills a project's missing storage, Key Vault, registry and Application
/// Insights names from its hub's document (`--hub-json`): a project uses its
/// hub's. The document must be the project's hub.
fn apply_hub(target: &mut Target, facts: &mut Facts, source: &str, text: &str) -> Result<()> {
    let (mut hub, hub_facts) = read_workspace_json(text).with_context(|| source.to_string())?;
    hub.validate(Origin::Document).with_context(|| source.to_string())?;
    let hub_name = hub.workspace_name.clone().unwrap_or_default();
    if !target.sources.is_empty() && !facts.is_project() {
        bail!(
            "{source}: --hub-json is for a project (kind Project with a hubResourceId), and the workspace is not one"
        );
    }
    if let Some(kind) = hub_facts.kind.as_deref().filter(|k| *k != "hub") {
        bail!("{source}: '{hub_name}' is a {kind} workspace, not a hub");
    }
    if let Some(id) = &facts.hub_id {
        let expected = id.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        if !hub_name.is_empty() && !expected.eq_ignore_ascii_case(&hub_name) {
            bail!(
                "{source}: this is workspace '{hub_name}', but the project's hub is '{}' (hubResourceId)",
                crate::term::escape_for_terminal(expected)
            );
        }
    }
    let mut filled = false;
    if target.storage_accounts.is_empty() && !hub.storage_accounts.is_empty() {
        target.storage_accounts = std::mem::take(&mut hub.storage_accounts);
        filled = true;
    }
    for (slot, value) in [
        (&mut target.key_vault, hub.key_vault.take()),
        (&mut target.container_registry, hub.container_registry.take()),
        (&mut target.app_insights, hub.app_insights.take()),
    ] {
        if slot.is_none() && value.is_some() {
            *slot = value;
            filled = true;
        }
    }
    if target.region.is_none() {
        target.region = hub.region.clone();
        target.cloud = hub.cloud;
    }
    if facts.managed_network.is_none() {
        facts.managed_network = hub_facts.managed_network;
    }
    if facts.kind.is_none() {
        facts.kind = Some("project".into());
    }
    if filled && facts.hub_names_from.is_none() {
        facts.hub_names_from = Some(format!("the hub's document given with {source}"));
    }
    facts.no_registry = target.container_registry.is_none() && hub_facts.no_registry;
    target.sources.push(source.to_string());
    Ok(())
}

/// The resource names in `properties.<key>`, an array of ARM IDs (absent or null: none).
fn names_in_array(props: &Value, key: &str) -> Result<Vec<String>> {
    let field = format!("properties.{key}");
    match props.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(id) => name_from_arm_id(&field, id),
                other => bail!("field '{field}' should list ARM IDs, found {}", kind_of(other)),
            })
            .collect(),
        Some(other) => bail!("field '{field}' should be an array of ARM IDs, found {}", kind_of(other)),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn cloud_from_url(url: &str) -> Option<Cloud> {
    let url = url.to_ascii_lowercase();
    if url.contains(".azure.us") || url.contains("usgovcloudapi") {
        Some(Cloud::Usgov)
    } else if url.contains(".azure.cn") || url.contains("chinacloudapi") {
        Some(Cloud::China)
    } else if url.contains("azureml.ms") || url.contains("azure.com") {
        Some(Cloud::Public)
    } else {
        None
    }
}

/// On a compute instance, `MLFLOW_TRACKING_URI` carries the region and the
/// workspace name, and `CI_NAME` the instance (FACTS.md, [CI]). The GUID is
/// not there: the plan then says which flag supplies it.
fn from_compute_instance_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Target> {
    let uri = env("MLFLOW_TRACKING_URI")?;
    let lower = uri.to_ascii_lowercase();
    let after_scheme = lower.split("://").nth(1)?;
    let host = after_scheme.split('/').next()?;
    let region = host.split('.').next()?.to_string();
    let cloud = cloud_from_url(host).unwrap_or_default();
    let segments: Vec<&str> = uri.split('/').collect();
    let ws = segments.iter().position(|s| s.eq_ignore_ascii_case("workspaces")).and_then(|i| segments.get(i + 1))?;
    Some(Target {
        cloud,
        region: Some(region),
        workspace_name: Some(ws.split('?').next().unwrap_or(ws).to_string()),
        compute_instance: env("CI_NAME"),
        sources: vec!["compute-instance".into()],
        ..Target::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_shape_reads_names_from_ids() {
        let t = from_workspace_json(
            r#"{"type":"Microsoft.MachineLearningServices/workspaces","name":"mlw","location":"East US",
                "properties":{"workspaceId":"6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f",
                "storageAccount":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stx",
                "keyVault":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvx",
                "notebookInfo":{"fqdn":"ml-mlw-eastus-6f2a.eastus.notebooks.azure.net"}}}"#,
        )
        .unwrap();
        assert_eq!(t.region.as_deref(), Some("eastus"));
        assert_eq!(t.storage_accounts, vec!["stx"]);
        assert_eq!(t.key_vault.as_deref(), Some("kvx"));
        assert_eq!(t.notebook_label().as_deref(), Some("ml-mlw-eastus-6f2a"));
    }

    #[test]
    fn a_2023_hub_lists_storage_and_key_vault_in_arrays() {
        let t = from_workspace_json(
            r#"{"type":"Microsoft.MachineLearningServices/workspaces","name":"hub-contoso","location":"westeurope",
                "kind":"Hub","properties":{"workspaceId":"6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f",
                "storageAccounts":["/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sthub"],
                "keyVaults":["/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-hub"],
                "containerRegistry":null}}"#,
        )
        .unwrap();
        assert_eq!(t.storage_accounts, vec!["sthub"]);
        assert_eq!(t.key_vault.as_deref(), Some("kv-hub"));
        let bad = from_workspace_json(
            r#"{"type":"Microsoft.MachineLearningServices/workspaces","name":"h","location":"eastus",
                "properties":{"storageAccounts":[42]}}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("properties.storageAccounts"));
    }

    /// Real `notebookInfo.fqdn` values (tests/fixtures/workspaces/README.md
    /// names their sources): the derived label must be Azure's.
    #[test]
    fn notebook_label_matches_real_samples() {
        let samples = [
            (
                "mlworkspace-portal02",
                "eastus",
                "03ce50c0-2e18-48ad-9e4a-ca338f571072",
                "ml-mlworkspace-port-eastus-03ce50c0-2e18-48ad-9e4a-ca338f571072",
            ),
            (
                "mlw-mlops-stg-weu-01",
                "westeurope",
                "9332539b-ef8b-4cb9-8fc1-22af35747521",
                "ml-mlw-mlops-st-westeurope-9332539b-ef8b-4cb9-8fc1-22af35747521",
            ),
            (
                "acctest5076",
                "westeurope",
                "130c4f07-5479-452c-b3b8-e65da97aa0a5",
                "ml-acctest5076-westeurope-130c4f07-5479-452c-b3b8-e65da97aa0a5",
            ),
            (
                "myworkspace",
                "eastus",
                "fb7e20a0-8891-458b-b969-55ddb3382f51",
                "ml-myworkspace-eastus-fb7e20a0-8891-458b-b969-55ddb3382f51",
            ),
        ];
        for (name, region, id, label) in samples {
            assert_eq!(derived_notebook_label(name, region, id), label, "{name}");
        }
        // Not from a sample: `_` is dropped before the cut, so the cut falls
        // where the name without it reaches 63.
        let label = derived_notebook_label("My_Work_Space_Name", "eastus", "03ce50c0-2e18-48ad-9e4a-ca338f571072");
        assert_eq!(label, "ml-myworkspacename-eastus-03ce50c0-2e18-48ad-9e4a-ca338f571072");
        let label =
            derived_notebook_label("a_b_c_d_e_f_g_h_i_j_k_l_m_n", "westeurope", "9332539b-ef8b-4cb9-8fc1-22af35747521");
        assert_eq!(label, "ml-abcdefghijkl-westeurope-9332539b-ef8b-4cb9-8fc1-22af35747521");
    }

    #[test]
    fn notebook_label_fits_63() {
        let t = Target {
            workspace_name: Some("a-very-long-workspace-name-that-goes-on-and-on".into()),
            region: Some("southcentralus".into()),
            workspace_id: Some("6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f".into()),
            ..Target::default()
        };
        let label = t.notebook_label().unwrap();
        assert_eq!(label.len(), 63, "{label}");
        assert!(label.ends_with("-southcentralus-6f2a9c1e-5b7d-4e3a-9c8f-1a2b3c4d5e6f"));
    }

    #[test]
    fn compute_instance_env_gives_region_and_name() {
        let env = |k: &str| {
            match k {
            "MLFLOW_TRACKING_URI" => Some("azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod".to_string()),
            "CI_NAME" => Some("ci-anna".to_string()),
            _ => None,
        }
        };
        let t = Target::resolve(None, &TargetFlags::default(), &env).unwrap();
        assert_eq!(t.region.as_deref(), Some("westeurope"));
        assert_eq!(t.workspace_name.as_deref(), Some("mlw-prod"));
        assert_eq!(t.compute_instance.as_deref(), Some("ci-anna"));
    }
}
