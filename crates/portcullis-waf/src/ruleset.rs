//! A rule set as an API enables it: the built-in baseline or a CRS 4 directory, behind a short
//! prelude (engine mode, body access, body processors, paranoia level, thresholds) written from
//! the gateway's config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::Waf;
use crate::seclang::{self, LoadErrors};

/// The built-in baseline rules (`rules/baseline.conf`).
pub const BASELINE: &str = include_str!("../rules/baseline.conf");

/// Where the rules come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// The built-in baseline ruleset.
    Baseline,
    /// An OWASP CRS 4 directory (`rules/*.conf`, and `crs-setup.conf` or
    /// `crs-setup.conf.example`), with an optional setup file to use instead.
    Crs {
        /// The CRS directory.
        dir: PathBuf,
        /// A setup file replacing the directory's own.
        setup: Option<PathBuf>,
    },
}

/// How the rules run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Refuse requests (`true`) or only report them.
    pub blocking: bool,
    /// Paranoia level, 1-4.
    pub paranoia: u8,
    /// Inbound anomaly score threshold (`None`: the rule set's default).
    pub inbound_threshold: Option<u32>,
    /// Outbound anomaly score threshold.
    pub outbound_threshold: Option<u32>,
    /// Inspect response bodies.
    pub inspect_responses: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            blocking: true,
            paranoia: 1,
            inbound_threshold: None,
            outbound_threshold: None,
            inspect_responses: true,
        }
    }
}

/// Ids used by the prelude (outside CRS's and the baseline's ranges).
const PRELUDE_IDS: std::ops::RangeInclusive<u64> = 7_001_000..=7_001_099;

/// The prelude's SecLang.
pub fn prelude(profile: &Profile) -> String {
    let mode = if profile.blocking {
        "On"
    } else {
        "DetectionOnly"
    };
    let response = if profile.inspect_responses {
        "On"
    } else {
        "Off"
    };
    let level = profile.paranoia.clamp(1, 4);
    let mut setvars = format!(
        "setvar:tx.blocking_paranoia_level={level},setvar:tx.detection_paranoia_level={level},setvar:tx.paranoia_level={level}"
    );
    if let Some(t) = profile.inbound_threshold {
        setvars.push_str(&format!(",setvar:tx.inbound_anomaly_score_threshold={t}"));
    }
    if let Some(t) = profile.outbound_threshold {
        setvars.push_str(&format!(",setvar:tx.outbound_anomaly_score_threshold={t}"));
    }
    let first = PRELUDE_IDS.start();
    format!(
        r#"SecRuleEngine {mode}
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecResponseBodyAccess {response}
SecResponseBodyMimeType text/plain text/html text/xml application/json application/problem+json application/xml
SecResponseBodyLimit 1048576
SecResponseBodyLimitAction ProcessPartial
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:{},phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/(?:[a-z0-9.+-]+\+)?json" "id:{},phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:{},phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:{},phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation'"
SecAction "id:{},phase:1,pass,nolog,{setvars}"
"#,
        first,
        first + 1,
        first + 2,
        first + 3,
        first + 4,
    )
}

/// Loads and compiles `source` behind the prelude for `profile`.
pub fn load(source: &Source, profile: &Profile) -> Result<Arc<Waf>, LoadErrors> {
    let mut set = seclang::parse_str(&prelude(profile), Path::new("<prelude>"))?;
    let rules = match source {
        Source::Baseline => seclang::parse_str(BASELINE, Path::new("<baseline>/baseline.conf"))?,
        Source::Crs { dir, setup } => {
            let setup = setup.clone().unwrap_or_else(|| {
                let own = dir.join("crs-setup.conf");
                if own.is_file() {
                    own
                } else {
                    dir.join("crs-setup.conf.example")
                }
            });
            seclang::load(&[setup, dir.join("rules/*.conf")])?
        }
    };
    set.directives.extend(rules.directives);
    Ok(Arc::new(Waf::compile(&set)?))
}
