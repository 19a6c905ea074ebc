//! The catalogue: what to probe, as data. TOML files under `probes/` are
//! compiled in; `--probes DIR` adds or replaces entries by `id`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::cloud::Cloud;

/// The built-in catalogue files, in the order they are merged.
const BUILTIN: &[(&str, &str)] = &[
    ("probes/workspace.toml", include_str!("../probes/workspace.toml")),
    ("probes/dependencies.toml", include_str!("../probes/dependencies.toml")),
    ("probes/outbound.toml", include_str!("../probes/outbound.toml")),
    ("probes/repos.toml", include_str!("../probes/repos.toml")),
    ("probes/vscode.toml", include_str!("../probes/vscode.toml")),
];
const BUILTIN_CLOUDS: &str = include_str!("../probes/clouds.toml");

/// Placeholders a target supplies; the rest come from the cloud table.
pub const TARGET_VARS: &[&str] = &[
    "workspace_id",
    "workspace_name",
    "region",
    "storage",
    "key_vault",
    "acr",
    "app_insights",
    "compute_instance",
    "notebook_host",
    "notebook_label",
];

/// Whether a name must end on a private address or may be public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// A private-endpoint name: privatelink CNAME, private address.
    Private,
    /// A public service reached outbound: any address will do.
    Public,
}

/// Transport of a probed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// `tcp/443` in a catalogue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// Transport.
    pub protocol: Protocol,
    /// Port number.
    pub port: u16,
}

impl FromStr for PortSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (proto, port) = s.split_once('/').ok_or_else(|| format!("port '{s}' should look like tcp/443"))?;
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                return Err(format!("port '{s}': unknown protocol '{other}' (tcp or udp)"));
            }
        };
        let port =
            port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("port '{s}': not a port number"))?;
        Ok(PortSpec { protocol, port })
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One catalogue entry, as written in `probes/*.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Stable identifier; a `--probes` entry with the same id replaces this one.
    pub id: String,
    /// Grouping for reports and `--skip` (`repos`, `vscode`, `storage`, ...).
    pub group: String,
    /// Host template, e.g. `{storage}.blob.{storage_suffix}`.
    pub host: String,
    /// The CNAME target when private link works (used by the lab and in explanations).
    pub privatelink_name: Option<String>,
    /// The private DNS zone the chain must pass through.
    pub privatelink_zone: Option<String>,
    /// The wildcard this concrete host stands for.
    pub stands_for: Option<String>,
    /// Target values that must be known for this entry to be planned at all.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Clouds where the facts exist; all when absent.
    pub clouds: Option<Vec<String>>,
    /// Ports and protocols.
    pub ports: Vec<PortSpec>,
    /// Private or public.
    pub expect: Expect,
    /// Required for every workspace, or only in a situation.
    pub required: bool,
    /// When `required` is false: the situation that needs it.
    pub situation: Option<String>,
    /// The Azure service tag a firewall rule would use.
    pub service_tag: String,
    /// Why a workspace needs it, in plain words.
    pub purpose: String,
    /// Documentation links (the source of the fact).
    pub docs: Vec<String>,
    /// TLS on its TCP 443 ports (the default); `false` for a plain-TCP service.
    pub tls: Option<bool>,
    /// Path of one HTTP GET after the handshake, where the use is HTTP.
    pub http: Option<String>,
    /// Substrings of the issuer a genuine certificate of this service has
    /// (organisation or common name); another issuer means TLS inspection.
    pub expected_issuers: Option<Vec<String>>,
    /// Outbound access the workspace's compute needs (Batch, UDP 5831, MCR,
    /// ...), not the client: with a managed network it is the managed
    /// network's business, and the plan marks it not required.
    #[serde(default)]
    pub compute: bool,
}

/// Values an entry takes when it does not set them itself.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    http: Option<String>,
    expected_issuers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    endpoint: Vec<EndpointSpec>,
}

/// One cloud's names and regions.
#[derive(Debug, Clone, Default)]
pub struct CloudNames {
    /// Suffixes and hosts by placeholder name.
    pub names: BTreeMap<String, String>,
    /// Known region names.
    pub regions: BTreeSet<String>,
}

/// The most catalogue entries amlnet takes: far above any real workspace's
/// needs, and small enough that a run stays within seconds.
pub const MAX_ENTRIES: usize = 10_000;

/// The merged catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Entries in file order.
    pub endpoints: Vec<EndpointSpec>,
    /// Per-cloud names.
    pub clouds: BTreeMap<String, CloudNames>,
    /// Where each id sits in `endpoints`, so that merging stays linear.
    by_id: HashMap<String, usize>,
}

impl Catalogue {
    /// The catalogue compiled into the binary.
    pub fn builtin() -> &'static Catalogue {
        static BUILT: OnceLock<Catalogue> = OnceLock::new();
        BUILT.get_or_init(|| {
            let mut c = Catalogue { endpoints: Vec::new(), clouds: BTreeMap::new(), by_id: HashMap::new() };
            // The built-in files are part of the source tree and covered by tests;
            // a parse failure here is a build defect, not user input.
            c.merge_clouds("probes/clouds.toml", BUILTIN_CLOUDS).expect("built-in clouds.toml parses");
            for (name, text) in BUILTIN {
                c.merge_file(name, text).expect("built-in catalogue parses");
            }
            c
        })
    }

    /// The built-in catalogue plus every `*.toml` in `dir` (`clouds.toml`
    /// there extends the cloud table).
    pub fn with_extra_dir(dir: &Path) -> Result<Catalogue> {
        let mut c = Catalogue::builtin().clone();
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("--probes {}: cannot read the directory", dir.display()))?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("--probes {}: no .toml files there", dir.display());
        }
        for path in files {
            let name = path.display().to_string();
            let text = crate::input::read_input_file(&path, "--probes")?;
            if path.file_name().is_some_and(|f| f == "clouds.toml") {
                c.merge_clouds(&name, &text)?;
            } else {
                c.merge_file(&name, &text)?;
            }
        }
        Ok(c)
    }

    /// The built-in catalogue plus one extra file's text (`clouds.toml` when
    /// `clouds` is true): what `--probes` does for each file, without the
    /// file system. The entry point of the catalogue fuzz target.
    pub fn with_extra_text(name: &str, text: &str, clouds: bool) -> Result<Catalogue> {
        let mut c = Catalogue::builtin().clone();
        if clouds {
            c.merge_clouds(name, text)?;
        } else {
            c.merge_file(name, text)?;
        }
        Ok(c)
    }

    fn merge_clouds(&mut self, name: &str, text: &str) -> Result<()> {
        let table: toml::Table = toml::from_str(text).map_err(|e| anyhow!("{name}: {}", one_line(&e.to_string())))?;
        for (cloud, value) in table {
            let body = value.as_table().ok_or_else(|| anyhow!("{name}: [{cloud}] should be a table"))?;
            let entry = self.clouds.entry(cloud.clone()).or_default();
            for (key, v) in body {
                match (key.as_str(), v) {
                    ("regions", toml::Value::Array(list)) => {
                        for r in list {
                            let r = r.as_str().ok_or_else(|| anyhow!("{name}: [{cloud}] regions must be strings"))?;
                            entry.regions.insert(r.to_string());
                        }
                    }
                    (_, toml::Value::String(s)) => {
                        // Every name of the cloud table ends up in a host name.
                        if !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()) {
                            bail!(
                                "{name}: [{cloud}] '{}' is not a placeholder name",
                                crate::term::escape_for_terminal(key)
                            );
                        }
                        crate::hostname::validate(s, false).map_err(|e| anyhow!("{name}: [{cloud}] {key}: {e}"))?;
                        entry.names.insert(key.clone(), s.clone());
                    }
                    _ => bail!("{name}: [{cloud}] {key} should be a string"),
                }
            }
        }
        Ok(())
    }

    fn merge_file(&mut self, name: &str, text: &str) -> Result<()> {
        let file: CatalogueFile = toml::from_str(text).map_err(|e| anyhow!("{name}: {}", one_line(&e.to_string())))?;
        let known: BTreeSet<String> = self.known_placeholders().into_iter().map(str::to_string).collect();
        let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
        for mut spec in file.endpoint {
            if spec.http.is_none() && spec.tls != Some(false) {
                spec.http = file.defaults.http.clone();
            }
            if spec.expected_issuers.is_none() {
                spec.expected_issuers = file.defaults.expected_issuers.clone();
            }
            Self::validate(name, &spec, &known)?;
            match self.by_id.get(&spec.id) {
                Some(&at) => self.endpoints[at] = spec,
                None if self.endpoints.len() >= MAX_ENTRIES => {
                    bail!(
                        "{name}: more than {MAX_ENTRIES} catalogue entries in all; amlnet takes at most {MAX_ENTRIES}"
                    )
                }
                None => {
                    self.by_id.insert(spec.id.clone(), self.endpoints.len());
                    self.endpoints.push(spec);
                }
            }
        }
        Ok(())
    }

    /// Every placeholder a template may use: the target's values and the clouds' names.
    fn known_placeholders(&self) -> BTreeSet<&str> {
        TARGET_VARS
            .iter()
            .copied()
            .chain(self.clouds.values().flat_map(|c| c.names.keys().map(String::as_str)))
            .collect()
    }

    fn validate(file: &str, spec: &EndpointSpec, known: &BTreeSet<&str>) -> Result<()> {
        // Every text of an entry is printed somewhere: no control characters.
        if spec.id.is_empty()
            || spec.id.len() > 100
            || !spec.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            bail!(
                "{file}: endpoint id '{}' should be 1-100 letters, digits, '-', '_' or '.'",
                crate::term::escape_for_terminal(&spec.id)
            );
        }
        let texts = [
            Some(&spec.group),
            Some(&spec.service_tag),
            Some(&spec.purpose),
            spec.situation.as_ref(),
            spec.http.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(spec.docs.iter())
        .chain(spec.expected_issuers.iter().flatten());
        for t in texts {
            if t.chars().any(|c| c.is_control()) {
                bail!("{file}: endpoint '{}': control character in '{}'", spec.id, crate::term::escape_for_terminal(t));
            }
        }
        let templates = [
            Some(&spec.host),
            spec.privatelink_name.as_ref(),
            spec.privatelink_zone.as_ref(),
            spec.stands_for.as_ref(),
        ];
        for t in templates.into_iter().flatten().chain(std::iter::once(&spec.service_tag)) {
            for var in placeholders(t).map_err(|e| anyhow!("{file}: endpoint '{}': {e}", spec.id))? {
                if !known.contains(var) {
                    bail!("{file}: endpoint '{}': unknown placeholder {{{var}}} in '{t}'", spec.id);
                }
            }
        }
        // Host templates must give host names: each placeholder stands for a
        // validated label, so checking the template with one in its place
        // catches control characters, spaces and bad labels in the file.
        let host_templates = [
            (Some(&spec.host), false),
            (spec.privatelink_name.as_ref(), false),
            (spec.privatelink_zone.as_ref(), false),
            (spec.stands_for.as_ref(), true),
        ];
        for (t, wildcard) in host_templates {
            let Some(t) = t else { continue };
            let sample = fill_placeholders(t, "x");
            crate::hostname::validate(&sample, wildcard).map_err(|e| {
                anyhow!("{file}: endpoint '{}': host template: {e}", crate::term::escape_for_terminal(&spec.id))
            })?;
        }
        for need in &spec.needs {
            if !TARGET_VARS.contains(&need.as_str()) {
                bail!("{file}: endpoint '{}': needs '{need}', which no target supplies", spec.id);
            }
        }
        if let Some(clouds) = &spec.clouds {
            for c in clouds {
                if !["public", "usgov", "china"].contains(&c.as_str()) {
                    bail!("{file}: endpoint '{}': unknown cloud '{c}'", spec.id);
                }
            }
        }
        if spec.ports.is_empty() {
            bail!("{file}: endpoint '{}': no ports", spec.id);
        }
        if spec.expect == Expect::Private && spec.privatelink_zone.is_none() {
            bail!("{file}: endpoint '{}': a private endpoint needs privatelink_zone", spec.id);
        }
        if let Some(path) = &spec.http
            && !path.starts_with('/')
        {
            bail!("{file}: endpoint '{}': http path '{path}' should start with '/'", spec.id);
        }
        if !spec.required && spec.situation.is_none() {
            bail!("{file}: endpoint '{}': not required, so it needs a situation", spec.id);
        }
        Ok(())
    }

    /// The names table of one cloud.
    pub fn cloud(&self, cloud: Cloud) -> Option<&CloudNames> {
        self.clouds.get(cloud.as_str())
    }

    /// Whether `region` is a region of `cloud` in this catalogue's cloud
    /// table (the built-in one plus a `--probes` `clouds.toml`).
    pub fn known_region(&self, cloud: Cloud, region: &str) -> bool {
        self.cloud(cloud).is_some_and(|c| c.regions.contains(region))
    }

    /// The cloud whose table lists `region`, if any.
    pub fn cloud_of_region(&self, region: &str) -> Option<Cloud> {
        [Cloud::Public, Cloud::Usgov, Cloud::China].into_iter().find(|c| self.known_region(*c, region))
    }
}

/// Whether `region` is a known region of `cloud` in the built-in table.
pub fn known_region(cloud: Cloud, region: &str) -> bool {
    Catalogue::builtin().known_region(cloud, region)
}

/// The `{name}` placeholders of a template, in order.
pub fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or_else(|| format!("unclosed '{{' in '{template}'"))?;
        let var = &after[..end];
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()) {
            return Err(format!("bad placeholder '{{{var}}}' in '{template}'"));
        }
        out.push(var);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Fills a template; `Err(var)` names the first value that is missing.
pub fn expand<'a>(template: &'a str, vars: &BTreeMap<&str, String>) -> Result<String, &'a str> {
    let mut out = template.to_string();
    for var in placeholders(template).unwrap_or_default() {
        let value = vars.get(var).ok_or(var)?;
        out = out.replacen(&format!("{{{var}}}"), value, 1);
    }
    Ok(out)
}

/// `template` with every `{placeholder}` replaced by `with`.
fn fill_placeholders(template: &str, with: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push_str(with);
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn one_line(s: &str) -> String {
    crate::term::escape_for_terminal(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_cites_sources() {
        let c = Catalogue::builtin();
        assert!(c.endpoints.len() > 40);
        for e in &c.endpoints {
            assert!(!e.docs.is_empty(), "{} has no source", e.id);
            assert!(e.docs.iter().all(|d| d.starts_with("https://learn.microsoft.com/")), "{}", e.id);
        }
        assert!(known_region(Cloud::Public, "eastus"));
        assert!(!known_region(Cloud::Public, "usgovvirginia"));
    }

    #[test]
    fn expand_reports_the_missing_value() {
        let mut vars = BTreeMap::new();
        vars.insert("region", "eastus".to_string());
        assert_eq!(expand("{region}.x.{acr}", &vars), Err("acr"));
        assert_eq!(expand("{region}.x", &vars).unwrap(), "eastus.x");
    }

    #[test]
    fn unknown_placeholder_is_rejected() {
        let mut c = Catalogue::builtin().clone();
        let err = c
            .merge_file("x.toml", "[[endpoint]]\nid='a'\ngroup='g'\nhost='{nope}.example'\nports=['tcp/1']\nexpect='public'\nrequired=true\nservice_tag='t'\npurpose='p'\ndocs=[]\n")
            .unwrap_err();
        assert!(err.to_string().contains("unknown placeholder {nope}"), "{err}");
    }
}
