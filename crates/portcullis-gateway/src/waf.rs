//! The WAF of an API: its rule set compiled once (shared by APIs with the same rule set and
//! settings), and its exclusions as the `ctl` actions each route applies before phase 1.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use portcullis_waf::engine::actions::{Ctl, IdRange};
use portcullis_waf::engine::variables::Target;
use portcullis_waf::engine::Waf;
use portcullis_waf::ruleset::{self, Profile, Source};

use crate::config::waf_model::{WafConfig, WafMode};
use crate::config::Finding;

/// An API's compiled WAF.
pub struct ApiWaf {
    /// The rules.
    pub waf: Arc<Waf>,
    /// Block or detect.
    pub mode: WafMode,
    exclusions: Vec<(Vec<String>, Vec<Ctl>)>,
}

impl ApiWaf {
    /// The exclusions that apply to route `name`, as `ctl` actions.
    pub fn controls_for(&self, route: &str) -> Vec<Ctl> {
        self.exclusions
            .iter()
            .filter(|(routes, _)| routes.is_empty() || routes.iter().any(|r| r == route))
            .flat_map(|(_, c)| c.iter().cloned())
            .collect()
    }

    /// Route names the exclusions mention (to check that they exist).
    pub fn named_routes(&self) -> impl Iterator<Item = (usize, &str)> {
        self.exclusions
            .iter()
            .enumerate()
            .flat_map(|(i, (routes, _))| routes.iter().map(move |r| (i, r.as_str())))
    }
}

/// Rule sets compiled during one config build, by source and settings.
#[derive(Default)]
pub struct WafCache {
    compiled: HashMap<(Source, String), Arc<Waf>>,
}

/// Compiles the WAF of the API at config path `at`.
pub fn compile(
    cfg: &WafConfig,
    at: &str,
    base_dir: &Path,
    cache: &mut WafCache,
) -> Result<ApiWaf, Vec<Finding>> {
    let mut errors = Vec::new();
    if !(1..=4).contains(&cfg.paranoia) {
        errors.push(Finding::error(
            format!("{at}.paranoia"),
            "paranoia is a level from 1 to 4",
        ));
    }
    let source = if cfg.ruleset == "builtin" {
        if cfg.setup.is_some() {
            errors.push(Finding::error(
                format!("{at}.setup"),
                "`setup` is for a CRS ruleset directory, not the builtin rules",
            ));
        }
        Source::Baseline
    } else {
        let dir = base_dir.join(&cfg.ruleset);
        if !dir.join("rules").is_dir() {
            errors.push(Finding::error(
                format!("{at}.ruleset"),
                format!(
                    "{} is not a CRS directory (it has no rules/); use `builtin` or a CRS 4 release",
                    dir.display()
                ),
            ));
        }
        Source::Crs {
            dir,
            setup: cfg.setup.as_ref().map(|s| base_dir.join(s)),
        }
    };
    let mut exclusions = Vec::new();
    for (i, e) in cfg.exclusions.iter().enumerate() {
        match exclusion(e) {
            Ok(c) => exclusions.push((e.routes.clone(), c)),
            Err(m) => errors.push(Finding::error(format!("{at}.exclusions.{i}"), m)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let profile = Profile {
        blocking: cfg.mode == WafMode::Block,
        paranoia: cfg.paranoia,
        inbound_threshold: cfg.inbound_threshold,
        outbound_threshold: cfg.outbound_threshold,
        inspect_responses: cfg.inspect_responses,
    };
    let key = (source, format!("{profile:?}"));
    let waf = match cache.compiled.get(&key) {
        Some(w) => w.clone(),
        None => {
            let w = ruleset::load(&key.0, &profile).map_err(|e| {
                e.0.iter()
                    .map(|l| Finding::error(format!("{at}.ruleset"), l.to_string()))
                    .collect::<Vec<_>>()
            })?;
            cache.compiled.insert(key, w.clone());
            w
        }
    };
    Ok(ApiWaf {
        waf,
        mode: cfg.mode,
        exclusions,
    })
}

/// One exclusion as `ctl` actions: whole rules, or some targets of them.
fn exclusion(e: &crate::config::waf_model::WafExclusion) -> Result<Vec<Ctl>, String> {
    if e.rule_ids.is_empty() && e.tags.is_empty() {
        return Err("an exclusion names rule_ids or tags".into());
    }
    let ids = e
        .rule_ids
        .iter()
        .map(|r| IdRange::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = e
        .targets
        .iter()
        .map(|t| Target::parse(t).map_err(|m| format!("target {t:?}: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    if targets.is_empty() {
        out.extend(ids.iter().map(|r| Ctl::RemoveById(*r)));
        out.extend(e.tags.iter().map(|t| Ctl::RemoveByTag(t.clone())));
    } else {
        for t in &targets {
            out.extend(ids.iter().map(|r| Ctl::RemoveTargetById(*r, t.clone())));
            out.extend(
                e.tags
                    .iter()
                    .map(|tag| Ctl::RemoveTargetByTag(tag.clone(), t.clone())),
            );
        }
    }
    Ok(out)
}
