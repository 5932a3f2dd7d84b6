//! The config's WAF shape: the rule set an API runs, how strictly, and what is spared.

use schemars::JsonSchema;
use serde::Deserialize;

/// The web application firewall of an API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafConfig {
    /// `builtin` (Portcullis's baseline rules, the default) or the directory of an OWASP CRS 4
    /// release (holding `rules/*.conf` and `crs-setup.conf` or `crs-setup.conf.example`),
    /// relative to the config file.
    #[serde(default = "builtin")]
    pub ruleset: String,
    /// A CRS setup file to load instead of the one in the ruleset directory.
    #[serde(default)]
    pub setup: Option<String>,
    /// Paranoia level, 1 (the default) to 4: higher levels run more rules, and raise more
    /// false positives.
    #[serde(default = "level_one")]
    pub paranoia: u8,
    /// `block` (the default): a request whose anomaly score reaches the threshold is refused
    /// with 403. `detect`: it passes, and a security event says what would have been refused.
    #[serde(default)]
    pub mode: WafMode,
    /// Inbound anomaly score at which a request is refused (the rule set's default, 5, when
    /// unset).
    #[serde(default)]
    pub inbound_threshold: Option<u32>,
    /// Outbound anomaly score at which a response is refused (default 4).
    #[serde(default)]
    pub outbound_threshold: Option<u32>,
    /// Run the outbound rules on response bodies (text, HTML, XML and JSON; default true).
    #[serde(default = "yes")]
    pub inspect_responses: bool,
    /// Rules switched off, for every route or some, for every value or some.
    #[serde(default)]
    pub exclusions: Vec<WafExclusion>,
}

fn builtin() -> String {
    "builtin".into()
}

fn level_one() -> u8 {
    1
}

fn yes() -> bool {
    true
}

/// Whether the WAF refuses or only reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WafMode {
    /// Refuse (403).
    #[default]
    Block,
    /// Report only.
    Detect,
}

/// A rule exclusion (for false positives).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafExclusion {
    /// Rule ids or id ranges (`942100`, `942000-942999`).
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// Rule tags (`attack-sqli`, `paranoia-level/2`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Route names (or `operationId`s of spec operations) it applies to; every route of the
    /// API when empty.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Values spared instead of the whole rule (`ARGS:comment`, `REQUEST_COOKIES:/^_ga/`,
    /// `REQUEST_HEADERS:User-Agent`); the whole rule when empty.
    #[serde(default)]
    pub targets: Vec<String>,
}
