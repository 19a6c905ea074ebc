//! Azure's clouds. A cloud decides the DNS suffixes and regions of every
//! name (the tables are in `probes/clouds.toml`); both the target and the
//! catalogue speak of it, so it lives below both.

use std::fmt;

use serde::Serialize;

/// An Azure cloud: each has its own DNS suffixes (see `probes/clouds.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Azure public cloud.
    #[default]
    Public,
    /// Azure US Government.
    Usgov,
    /// Azure operated by 21Vianet (China).
    China,
}

impl Cloud {
    /// The cloud a region name belongs to where the name says so:
    /// `usgov*` and `usdod*` are US Government, `china*` is China.
    pub fn of_region(region: &str) -> Option<Cloud> {
        let region = region.to_ascii_lowercase();
        if region.starts_with("usgov") || region.starts_with("usdod") {
            Some(Cloud::Usgov)
        } else if region.starts_with("china") {
            Some(Cloud::China)
        } else {
            None
        }
    }

    /// The key of this cloud in `clouds.toml` and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::Usgov => "usgov",
            Cloud::China => "china",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
