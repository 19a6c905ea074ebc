//! The target: which workspace, in which cloud and region, with which
//! dependent resources. Built from `az` JSON, from flags, or from a compute
//! instance's own environment; flags win over JSON.

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

impl Target {
    /// Builds the target from an optional workspace JSON document (already
    /// read; `source` names it in errors), flags, and, when neither names a
    /// workspace, the compute instance's environment (`env`).
    pub fn resolve(
        json: Option<(&str, &str)>,
        flags: &TargetFlags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target> {
        let mut target = match json {
            Some((source, text)) => {
                let mut t = from_workspace_json(text).with_context(|| source.to_string())?;
                t.validate(Origin::Document).with_context(|| source.to_string())?;
                t.sources.push(source.to_string());
                t
            }
            None if flags.is_empty() => match from_compute_instance_env(env) {
                Some(mut t) => {
                    t.validate(Origin::Document)
                        .context("compute instance environment (MLFLOW_TRACKING_URI, CI_NAME)")?;
                    t
                }
                None => Target::default(),
            },
            None => Target::default(),
        };
        target.apply_flags(flags)?;
        // A region named for its cloud decides the cloud when nothing else did.
        if flags.cloud.is_none()
            && target.cloud == Cloud::Public
            && let Some(cloud) = target.region.as_deref().and_then(Cloud::of_region)
        {
            target.cloud = cloud;
        }
        // A region the user did not type is not blamed on --region.
        if let (Some(region), None) = (&target.region, &flags.region)
            && !crate::catalogue::known_region(target.cloud, region)
        {
            bail!(
                "the workspace's region '{region}' is not a region of the {} cloud{} (give --cloud or --region)",
                target.cloud,
                if flags.cloud.is_some() { " given with --cloud" } else { "" }
            );
        }
        target.validate(Origin::Flags)?;
        Ok(target)
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
        if let Some(region) = &self.region
            && !crate::catalogue::known_region(self.cloud, region)
        {
            bail!(
                "{}: unknown region '{region}' for the {} cloud (expected a name such as eastus; `az account list-locations -o table` lists them)",
                label(Field::Region),
                self.cloud
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

    /// The notebooks host: from the ARM resource when known, otherwise
    /// `ml-<name>-<region>-<guid>`, the name part cut so the label fits 63
    /// characters (FACTS.md, [DNS]).
    pub fn notebook_label(&self) -> Option<String> {
        if let Some(fqdn) = &self.notebook_host {
            return fqdn.split('.').next().map(str::to_string);
        }
        let (name, region, id) = (self.workspace_name.as_ref()?, self.region.as_ref()?, self.workspace_id.as_ref()?);
        let fixed = 3 + 1 + region.len() + 1 + id.len();
        let room = 63usize.saturating_sub(fixed);
        let name: String = name.to_ascii_lowercase().chars().take(room).collect();
        Some(format!("ml-{name}-{region}-{id}"))
    }
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
        t.app_insights = str_at(props, "applicationInsights")?
            .map(|id| name_from_arm_id("properties.applicationInsights", &id))
            .transpose()?;
        if let Some(nb) = props.get("notebookInfo") {
            t.notebook_host = str_at(nb, "fqdn")?.map(|s| s.to_ascii_lowercase());
        }
        if let Some(url) = str_at(props, "discoveryUrl")? {
            t.cloud = cloud_from_url(&url).unwrap_or_default();
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
    Ok(t)
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
