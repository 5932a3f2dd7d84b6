//! From parsed directives to runnable rules: default actions applied, `block` resolved, rule
//! updates and removals done, markers placed in every phase, engine settings read.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::actions::{Ctl, Disruptive, SetVar};
use super::chains::Chains;
use super::rule::{Rule, RuleBits};
use super::settings::Settings;
use super::template::Template;
use super::tx::TxNames;
use super::variables::{Target, VarSet};
use crate::operator::Operator;
use crate::seclang::ast::{self, Action, Directive, RuleRef};
use crate::seclang::{LoadError, LoadErrors, RuleSet};
use crate::transform::Transformation;

/// One step of a phase while compiling: a rule (index into the rule list) or a marker.
#[derive(Debug, Clone)]
enum Step {
    Rule(usize),
    Marker(String),
}

/// A rule of a phase, with its `skipAfter` resolved.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Index into [`Compiled::rules`].
    pub rule: usize,
    /// Where evaluation continues when the rule matched: the next slot, or the slot after
    /// its `skipAfter` marker (the phase's length when the marker does not follow).
    pub next: usize,
    /// The rule's [`Rule::reads`], here so that a rule a transaction skips is not touched
    /// (a rule is hundreds of bytes: most of a phase's cache misses were reading this).
    pub reads: VarSet,
}

/// Compiled rules, in phase order.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// Every rule (chain heads).
    pub rules: Vec<Rule>,
    /// The rules of phases 1-5 in order (index 0 is phase 1).
    pub phases: [Vec<Slot>; 5],
    /// Engine settings.
    pub settings: Settings,
    /// The rules' transformation chains and literal filters.
    pub chains: Chains,
    /// The rules carrying each tag (lowercase), for `ctl` removals by tag.
    pub tagged: HashMap<String, RuleBits>,
    /// The TX names the rules spell out, numbered (see [`super::tx`]).
    pub tx_names: Arc<TxNames>,
}

impl Compiled {
    /// The rules carrying `tag` (compared case-insensitively); `None` when none does.
    pub fn tagged(&self, tag: &str) -> Option<&RuleBits> {
        self.tagged.get(&tag.to_ascii_lowercase())
    }
}

/// What `SecDefaultAction` gives the rules of a phase.
#[derive(Debug, Clone)]
struct Defaults {
    transformations: Vec<Transformation>,
    disruptive: Disruptive,
    status: Option<u16>,
    log: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            transformations: Vec::new(),
            disruptive: Disruptive::Pass,
            status: None,
            log: true,
        }
    }
}

/// Compiles a rule set.
pub fn compile(set: &RuleSet) -> Result<Compiled, LoadErrors> {
    let mut out = Compiled::default();
    let mut removed: Vec<bool> = Vec::new();
    let mut steps: [Vec<Step>; 5] = Default::default();
    let mut defaults: [Defaults; 5] = Default::default();
    let mut errors = Vec::new();
    let mut fail = |place: &ast::Place, message: String| {
        errors.push(LoadError {
            file: place.file.clone(),
            line: place.line,
            message,
        });
    };
    for d in &set.directives {
        match d {
            Directive::Rule(r) => match rule(r, &defaults, None) {
                Ok(compiled) => {
                    steps[usize::from(compiled.phase) - 1].push(Step::Rule(out.rules.len()));
                    out.rules.push(compiled);
                    removed.push(false);
                }
                Err(m) => fail(&r.place, m),
            },
            Directive::Action(place, actions) => {
                let r = ast::Rule {
                    place: place.clone(),
                    variables: Vec::new(),
                    operator: ast::Operator {
                        negated: false,
                        name: "unconditionalMatch".into(),
                        argument: String::new(),
                    },
                    actions: actions.clone(),
                    chained: None,
                };
                match rule(&r, &defaults, None) {
                    Ok(mut compiled) => {
                        compiled.always = true;
                        steps[usize::from(compiled.phase) - 1].push(Step::Rule(out.rules.len()));
                        out.rules.push(compiled);
                        removed.push(false);
                    }
                    Err(m) => fail(place, m),
                }
            }
            Directive::Marker(_, name) => {
                for phase in &mut steps {
                    phase.push(Step::Marker(name.clone()));
                }
            }
            Directive::DefaultAction(place, actions) => match default_actions(actions) {
                Ok((phase, d)) => defaults[usize::from(phase) - 1] = d,
                Err(m) => fail(place, m),
            },
            Directive::UpdateTarget {
                place,
                rules,
                targets,
            } => {
                for t in targets {
                    let compiled = match Target::compile(t) {
                        Ok(c) => c,
                        Err(m) => {
                            fail(place, m);
                            continue;
                        }
                    };
                    for r in out.rules.iter_mut().filter(|r| selects(rules, r)) {
                        if t.exclude {
                            r.exclusions.push(compiled.clone());
                        } else {
                            r.targets.push(compiled.clone());
                        }
                    }
                }
            }
            Directive::Remove(_, refs) => {
                for (i, r) in out.rules.iter().enumerate() {
                    if refs.iter().any(|x| selects(x, r)) {
                        removed[i] = true;
                    }
                }
            }
            Directive::Setting(place, name, args) => {
                if let Err(m) = out.settings.apply(name, args) {
                    fail(place, m);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    out.chains = Chains::build(&mut out.rules, true);
    let mut names = TxNames::default();
    for r in &mut out.rules {
        r.number_tx(&mut names);
    }
    for r in &mut out.rules {
        r.select_tx(&names);
        r.set_reads();
    }
    for (phase, list) in out.phases.iter_mut().zip(steps) {
        *phase = slots(&out.rules, &list, &removed);
    }
    out.tx_names = Arc::new(names);
    for (i, r) in out.rules.iter().enumerate() {
        for t in r.tags.iter() {
            out.tagged
                .entry(t.to_ascii_lowercase())
                .or_default()
                .insert(i);
        }
    }
    Ok(out)
}

/// A phase's rules with every `skipAfter` resolved to a slot index.
fn slots(rules: &[Rule], steps: &[Step], removed: &[bool]) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::new();
    let mut markers: Vec<(&str, usize)> = Vec::new();
    for step in steps {
        match step {
            Step::Rule(i) if !removed[*i] => out.push(Slot {
                rule: *i,
                next: out.len() + 1,
                reads: rules[*i].reads,
            }),
            Step::Rule(_) => {}
            Step::Marker(name) => markers.push((name, out.len())),
        }
    }
    for (at, slot) in out.iter_mut().enumerate() {
        if let Some(target) = &rules[slot.rule].skip_after {
            slot.next = markers
                .iter()
                .find(|(name, pos)| *pos > at && name == target)
                .map_or(usize::MAX, |(_, pos)| *pos);
        }
    }
    let len = out.len();
    for slot in &mut out {
        slot.next = slot.next.min(len);
    }
    out
}

fn selects(r: &RuleRef, rule: &Rule) -> bool {
    match r {
        RuleRef::Id(id) => rule.id == *id,
        RuleRef::Range(a, b) => (*a..=*b).contains(&rule.id),
        RuleRef::Tag(t) => rule.has_tag(t),
    }
}

fn phase_number(value: &str) -> Result<u8, String> {
    match value {
        "request" => Ok(2),
        "response" => Ok(4),
        "logging" => Ok(5),
        v => v
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=5).contains(p))
            .ok_or_else(|| format!("invalid phase {v:?}")),
    }
}

fn default_actions(actions: &[Action]) -> Result<(u8, Defaults), String> {
    let mut phase = None;
    let mut d = Defaults::default();
    for a in actions {
        match a.name.as_str() {
            "phase" => phase = Some(phase_number(&a.value)?),
            "t" if a.value == "none" => d.transformations.clear(),
            "t" => d.transformations.push(transformation(&a.value)?),
            "log" => d.log = true,
            "nolog" => d.log = false,
            "pass" => d.disruptive = Disruptive::Pass,
            "deny" => d.disruptive = Disruptive::Deny,
            "drop" => d.disruptive = Disruptive::Drop,
            "status" => d.status = a.value.parse().ok(),
            "auditlog" | "noauditlog" | "tag" | "ver" => {}
            other => return Err(format!("SecDefaultAction cannot carry {other}")),
        }
    }
    let phase = phase.ok_or("SecDefaultAction needs a phase")?;
    Ok((phase, d))
}

fn transformation(name: &str) -> Result<Transformation, String> {
    Transformation::parse(name).ok_or_else(|| format!("unsupported transformation {name:?}"))
}

/// Compiles a rule; `head` is the chain head's phase and defaults for links.
fn rule(r: &ast::Rule, defaults: &[Defaults; 5], head: Option<&Rule>) -> Result<Rule, String> {
    let phase = match head {
        Some(h) => h.phase,
        None => r
            .action("phase")
            .map(phase_number)
            .transpose()?
            .unwrap_or(2),
    };
    let d = &defaults[usize::from(phase) - 1];
    let base = r.place.file.parent().unwrap_or(Path::new(""));
    let argument = &r.operator.argument;
    let expanded = argument.contains("%{");
    if expanded
        && matches!(
            r.operator.name.as_str(),
            "rx" | "pm" | "pmFromFile" | "ipMatch"
        )
    {
        return Err(format!("@{} cannot take macros", r.operator.name));
    }
    let mut compiled = Rule {
        id: r.id().unwrap_or(0),
        phase,
        file: r.place.file.clone(),
        line: r.place.line,
        targets: Vec::new(),
        exclusions: Vec::new(),
        transformations: if head.is_none() {
            d.transformations.clone()
        } else {
            Vec::new()
        },
        chain: 0,
        filter_slot: None,
        summaries: None,
        multi_match: false,
        operator: Operator::compile(&r.operator.name, argument, base)?,
        operator_name: r.operator.name.clone(),
        negated: r.operator.negated,
        min_class: 0,
        reads: super::variables::VarSet::ALL,
        argument: expanded.then(|| Template::parse(argument)).transpose()?,
        always: false,
        capture: false,
        setvars: Vec::new(),
        controls: Vec::new(),
        disruptive: d.disruptive,
        status: d.status,
        skip_after: None,
        log: head.map_or(d.log, |h| h.log),
        msg: None,
        logdata: None,
        severity: None,
        tags: Arc::from([]),
        chained: None,
    };
    let mut tags = Vec::new();
    for v in &r.variables {
        let t = Target::compile(v)?;
        if v.exclude {
            compiled.exclusions.push(t);
        } else {
            compiled.targets.push(t);
        }
    }
    for a in &r.actions {
        let v = a.value.as_str();
        match a.name.as_str() {
            "t" if v == "none" => compiled.transformations.clear(),
            "t" => compiled.transformations.push(transformation(v)?),
            "multiMatch" => compiled.multi_match = true,
            "capture" => compiled.capture = true,
            "setvar" => compiled.setvars.push(SetVar::parse(v)?),
            "ctl" => compiled.controls.push(Ctl::parse(v)?),
            "pass" => compiled.disruptive = Disruptive::Pass,
            "deny" => compiled.disruptive = Disruptive::Deny,
            "drop" => compiled.disruptive = Disruptive::Drop,
            "block" => compiled.disruptive = d.disruptive,
            "status" => compiled.status = v.parse().ok(),
            "skipAfter" => compiled.skip_after = Some(v.to_owned()),
            "log" => compiled.log = true,
            "nolog" => compiled.log = false,
            "msg" => compiled.msg = Some(Template::parse(v)?),
            "logdata" => compiled.logdata = Some(Template::parse(v)?),
            "severity" => compiled.severity = Some(Arc::from(v)),
            "tag" => tags.push(v.to_owned()),
            // Metadata and flow handled elsewhere, or without effect here (no audit log, no
            // persistent collections).
            "id" | "phase" | "chain" | "ver" | "auditlog" | "noauditlog" | "initcol" => {}
            other => return Err(format!("unsupported action {other}")),
        }
    }
    compiled.tags = tags.into();
    let class_changing = compiled
        .transformations
        .iter()
        .any(|t| matches!(t, Transformation::Base64Decode | Transformation::Sha1));
    if !compiled.negated && !class_changing {
        compiled.min_class = compiled.operator.min_class();
    }
    if head.is_some() && compiled.id != 0 {
        return Err("a chained rule cannot have an id".into());
    }
    if head.is_none() && compiled.id == 0 {
        return Err("the rule has no id".into());
    }
    if let Some(next) = &r.chained {
        compiled.chained = Some(Box::new(rule(next, defaults, Some(&compiled))?));
    }
    Ok(compiled)
}
