//! One request/response through the rules: phases 1-5, rule and chain evaluation, per-match
//! actions (`capture`, `setvar`, `ctl`), then logging, disruption and `skipAfter` once a whole
//! chain matched (the order ModSecurity 3 and Coraza use).

use std::borrow::Cow;
use std::sync::Arc;

use super::actions::{Ctl, Disruptive, EngineMode, IdRange, SetOp};
use super::collections::{Collections, Excluded, Pairs, Slots, TxBytes, ValueId};
use super::fold::Folds;
use super::memo::Memo;
use super::request::{fill, RequestHead};
use super::rule::{Rule, RuleBits};
use super::summaries::Summarised;
use super::variables::{Target, Var, VarSet};
use super::workspace::Workspace;
use super::Waf;
use crate::body::{self, Processor};
use crate::operator::number;
use crate::transform::{apply_all, Triggers};

/// Why a transaction was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// The HTTP status to answer with.
    pub status: u16,
    /// The rule that stopped it.
    pub rule_id: u64,
    /// Close the connection instead of answering (`drop`).
    pub drop: bool,
}

/// A rule that matched and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The rule id.
    pub id: u64,
    /// The phase it ran in.
    pub phase: u8,
    /// `msg`, expanded.
    pub msg: String,
    /// `logdata`, expanded (may quote request data).
    pub data: String,
    /// `severity` (empty when the rule has none).
    pub severity: Arc<str>,
    /// `tag`s (shared with the rule).
    pub tags: Arc<[String]>,
    /// The last matched variable's name (`ARGS:q`).
    pub matched: String,
}

impl Logged {
    /// The entry in ModSecurity's error-log shape (`... [id "942100"] [msg "..."] ...`), which
    /// go-ftw and log tooling read.
    pub fn line(&self) -> String {
        let mut s = format!(
            "Warning. Matched at {}. [id \"{}\"] [msg \"{}\"] [data \"{}\"] [severity \"{}\"]",
            self.matched, self.id, self.msg, self.data, self.severity
        );
        for t in self.tags.iter() {
            s.push_str(&format!(" [tag \"{t}\"]"));
        }
        s
    }
}

/// Rules removed or narrowed for this transaction by `ctl`. Tags are resolved to the set of
/// rules carrying them when the `ctl` runs, so a rule is checked with a bit test, not by
/// comparing its tags.
#[derive(Debug, Clone, Default)]
struct Removals {
    ids: Vec<IdRange>,
    by_tag: RuleBits,
    targets_by_id: Vec<(IdRange, Target)>,
    targets_by_tag: Vec<(RuleBits, Target)>,
}

impl Removals {
    /// Whether rule `index` (`r`) is removed.
    fn rule(&self, index: usize, r: &Rule) -> bool {
        self.by_tag.contains(index) || self.ids.iter().any(|x| x.contains(r.id))
    }

    /// Whether any target removal names this chain (checked once per rule, not per value).
    fn narrow(&self, index: usize, head: &Rule) -> bool {
        self.targets_by_id
            .iter()
            .any(|(ids, _)| ids.contains(head.id))
            || self
                .targets_by_tag
                .iter()
                .any(|(rules, _)| rules.contains(index))
    }

    fn target(&self, index: usize, head: &Rule, var: Var, name: Option<&[u8]>) -> bool {
        self.targets_by_id
            .iter()
            .any(|(ids, t)| ids.contains(head.id) && t.excludes(var, name))
            || self
                .targets_by_tag
                .iter()
                .any(|(rules, t)| rules.contains(index) && t.excludes(var, name))
    }
}

/// A value the operator matched (as transformed) and its captures.
type Tested<'v> = (Cow<'v, [u8]>, Vec<Vec<u8>>);

/// The values a link matched: each one's name and (transformed) value, in slots whose buffers
/// are reused from link to link, and its captures when the rule captures.
#[derive(Default)]
struct Hits {
    pairs: Slots,
    captures: Vec<Vec<Vec<u8>>>,
}

impl Hits {
    /// Starts a new set, keeping the slots.
    fn reset(&mut self) {
        self.pairs.clear();
        self.captures.clear();
    }

    /// Records a hit: `name` writes its name, `value` is the matched value.
    fn push(&mut self, name: &dyn Fn(&mut Vec<u8>), value: &[u8], captures: Vec<Vec<u8>>) {
        self.pairs.push(name, value);
        self.captures.push(captures);
    }
}

/// A transaction: create it with the request head, then call the phase methods in order.
pub struct Transaction {
    waf: Arc<Waf>,
    c: Collections,
    mode: EngineMode,
    removals: Removals,
    processor: Option<Processor>,
    force_body_variable: bool,
    body_access: bool,
    content_type: Vec<u8>,
    logged: Vec<Logged>,
    interruption: Option<Interruption>,
    /// Whether folded rules are taken as decided (see [`super::fold`]): until the transaction
    /// does something the analysis did not assume.
    folding: bool,
    /// The last phase that ran to its end, in order from phase 1 (0: none yet).
    phases_done: u8,
    /// The variables holding values (see [`Collections::present`]): a rule reading none of
    /// them is skipped. Set when a phase starts, and when a `ctl` sets one.
    present: VarSet,
    /// Working memory of the rules, kept from rule to rule and phase to phase.
    scratch: Scratch,
}

/// What evaluating rules reuses: taken out of the transaction for a phase, so that rules can
/// write into it while they read the collections; kept between transactions by
/// [`super::workspace`].
#[derive(Default)]
pub(super) struct Scratch {
    /// Where the next link's hits are written; its slots become MATCHED_VARS (see
    /// [`Transaction::link`]).
    hits: Hits,
    /// Transformed values and filter results, shared by the rules.
    memo: Memo,
    /// Filter results by target.
    summarised: Summarised,
}

/// The hit slots [`Scratch::clear`] keeps.
const KEPT_HIT_SLOTS: usize = 64;

impl Scratch {
    /// Forgets the last transaction's hits and memo, keeping their memory.
    pub(super) fn clear(&mut self) {
        self.hits.reset();
        // Slots beyond what a clean request fills (a rule that matched thousands of
        // arguments) are freed.
        self.hits.pairs.clear_keeping(KEPT_HIT_SLOTS);
        self.memo.clear();
        self.summarised.clear();
    }
}

impl Drop for Transaction {
    /// Hands the collections and scratch memory, cleared, to the next transaction.
    fn drop(&mut self) {
        let c = std::mem::take(&mut self.c);
        let scratch = std::mem::take(&mut self.scratch);
        self.waf.workspaces.give(Workspace { c, scratch });
    }
}

impl Transaction {
    pub(super) fn new(waf: Arc<Waf>, head: RequestHead, unique_id: &[u8]) -> Self {
        let content_type = head.header("content-type").unwrap_or(b"").to_vec();
        let Workspace { mut c, scratch } = waf.workspaces.take(&waf.compiled.tx_names);
        fill(&mut c, head, waf.settings().argument_separator);
        c.set(Var::UniqueId, unique_id);
        let mode = waf.settings().mode;
        let body_access = waf.settings().request_body_access;
        Self {
            waf,
            c,
            mode,
            removals: Removals::default(),
            processor: Processor::for_content_type(&content_type),
            force_body_variable: false,
            body_access,
            content_type,
            logged: Vec::new(),
            interruption: None,
            folding: true,
            phases_done: 0,
            present: VarSet::ALL,
            scratch,
        }
    }

    /// Phase 1: request headers.
    pub fn request_headers(&mut self) -> Option<&Interruption> {
        self.phase(1)
    }

    /// Runs the body processor over `body`, then phase 2.
    pub fn request_body(&mut self, body: &[u8]) -> Option<&Interruption> {
        if self.interruption.is_none() && self.mode != EngineMode::Off {
            self.process_body(body);
        }
        self.phase(2)
    }

    fn process_body(&mut self, body: &[u8]) {
        let waf = self.waf.clone();
        let settings = waf.settings();
        self.c.set(
            Var::RequestBodyLength,
            itoa::Buffer::new().format(body.len()),
        );
        if !self.body_access {
            return;
        }
        let mut body = body;
        if body.len() > settings.request_body_limit {
            if settings.request_body_limit_reject {
                self.interrupt(413, 0, false);
                return;
            }
            body = &body[..settings.request_body_limit];
        }
        if self.processor == Some(Processor::UrlEncoded) || self.force_body_variable {
            self.c.set(Var::RequestBody, body);
        }
        let Some(processor) = self.processor else {
            return;
        };
        if body.is_empty() {
            return;
        }
        let parsed = body::process(
            processor,
            body,
            &self.content_type,
            settings.argument_separator,
        );
        self.c.args_post = self.c.table(parsed.args);
        self.c.files = self.c.table(parsed.files);
        self.c.files_sizes = self.c.table(parsed.files_sizes);
        self.c.multipart_part_headers = self.c.table(parsed.part_headers);
        self.c.xml = parsed.xml;
        if !self.c.files_sizes.is_empty() {
            let total: usize = self
                .c
                .files_sizes
                .iter()
                .filter_map(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
                .sum();
            self.c
                .set(Var::FilesCombinedSize, itoa::Buffer::new().format(total));
        }
        if let Some(strict) = parsed.multipart_strict_error {
            self.c
                .set(Var::MultipartStrictError, if strict { "1" } else { "0" });
        }
        if let Some(e) = parsed.error {
            self.c.set(Var::ReqbodyError, b"1");
            self.c.set(Var::ReqbodyErrorMsg, e.into_bytes());
        }
    }

    /// Phase 3: response status and headers (they move into the transaction).
    pub fn response_headers(&mut self, status: u16, headers: Pairs) -> Option<&Interruption> {
        self.c.set(
            Var::ResponseStatus,
            itoa::Buffer::new().format(status).as_bytes(),
        );
        self.c.response_headers = self.c.table(headers);
        self.phase(3)
    }

    /// The rule set this transaction runs.
    pub fn waf(&self) -> &Waf {
        &self.waf
    }

    /// Whether phase 4 wants the response body (body access on and an inspected type).
    pub fn wants_response_body(&self) -> bool {
        let settings = self.waf.settings();
        if !settings.response_body_access {
            return false;
        }
        let ct = self
            .c
            .response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(b"text/plain");
        // The media type before any parameter, compared without a lowercase copy.
        let essence = ct.split(|b| *b == b';').next().unwrap_or(b"").trim_ascii();
        settings
            .response_mime_types
            .iter()
            .any(|m| m.as_bytes().eq_ignore_ascii_case(essence))
    }

    /// Phase 4: the response body (up to the response body limit).
    pub fn response_body(&mut self, body: &[u8]) -> Option<&Interruption> {
        if self.wants_response_body() {
            let limit = self.waf.settings().response_body_limit;
            self.c
                .set(Var::ResponseBody, &body[..body.len().min(limit)]);
        }
        self.phase(4)
    }

    /// Phase 5: logging (runs even after an interruption).
    pub fn logging(&mut self) {
        let stopped = self.interruption.take();
        self.phase(5);
        self.interruption = stopped;
    }

    /// Why the transaction was stopped, if it was.
    pub fn interruption(&self) -> Option<&Interruption> {
        self.interruption.as_ref()
    }

    /// Why the body processor could not parse the request body, if it could not.
    pub fn body_error(&self) -> Option<String> {
        (self.c.get(Var::ReqbodyError) == Some(b"1")).then(|| {
            String::from_utf8_lossy(self.c.get(Var::ReqbodyErrorMsg).unwrap_or(b"")).into_owned()
        })
    }

    /// The rules that matched and log, in order.
    pub fn logged(&self) -> &[Logged] {
        &self.logged
    }

    /// A TX variable (`inbound_anomaly_score`, ...).
    pub fn tx(&self, name: &str) -> Option<&[u8]> {
        self.c
            .tx
            .get(name.to_ascii_lowercase().as_bytes())
            .map(|v| v.as_slice())
    }

    fn interrupt(&mut self, status: u16, rule_id: u64, drop: bool) {
        if self.mode == EngineMode::On && self.interruption.is_none() {
            self.interruption = Some(Interruption {
                status,
                rule_id,
                drop,
            });
        }
    }

    fn phase(&mut self, phase: u8) -> Option<&Interruption> {
        if self.interruption.is_some() || self.mode == EngineMode::Off {
            return self.interruption.as_ref();
        }
        let waf = self.waf.clone();
        let slots = &waf.compiled.phases[usize::from(phase) - 1];
        // The folds assume every phase before ran to its end.
        self.folding &= self.phases_done + 1 == phase;
        let folds = waf.folds.phase(phase);
        self.present = self.c.present();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch
            .memo
            .reserve(self.c.ids_issued(), waf.compiled.chains.len());
        let mut i = 0;
        let mut finished = true;
        while let Some(slot) = slots.get(i) {
            if let Some(Some(fold)) = folds.get(i).filter(|_| self.folding) {
                for (n, value) in &fold.writes {
                    self.c.tx.set_at(*n, value.as_deref());
                }
                i = if fold.matched { slot.next } else { i + 1 };
                continue;
            }
            i += 1;
            if !slot.reads.meets(self.present) {
                continue;
            }
            let rule = &waf.compiled.rules[slot.rule];
            if self.removals.rule(slot.rule, rule) || !self.chain(&mut scratch, slot.rule, rule) {
                continue;
            }
            if self.interruption.is_some() || self.mode == EngineMode::Off {
                finished = false;
                break;
            }
            i = slot.next;
        }
        self.scratch = scratch;
        if finished {
            self.phases_done = phase;
        }
        self.interruption.as_ref()
    }

    /// Runs one rule's first link alone on `tx` (for [`super::fold`]): whether it matched (for
    /// a rule without a chain, whether the rule matched). `tx` is left as the link's actions
    /// left it; the transaction keeps no trace (its log, interruption, and what a `ctl`
    /// changed are reset).
    pub(super) fn probe(&mut self, index: usize, rule: &Rule, tx: &mut super::tx::Tx) -> bool {
        std::mem::swap(&mut self.c.tx, tx);
        let mut scratch = std::mem::take(&mut self.scratch);
        self.c.matched_vars.clear();
        let matched = self.link(&mut scratch, index, rule, rule);
        self.scratch = scratch;
        std::mem::swap(&mut self.c.tx, tx);
        self.logged.clear();
        self.interruption = None;
        self.removals = Removals::default();
        self.mode = self.waf.settings().mode;
        matched
    }

    /// Evaluates a chain; when every link matched, logs and applies the disruptive action.
    fn chain(&mut self, scratch: &mut Scratch, index: usize, head: &Rule) -> bool {
        // MATCHED_VARS starts empty (its slots are kept).
        self.c.matched_vars.clear();
        let mut link = head;
        loop {
            if !self.link(scratch, index, head, link) {
                return false;
            }
            match &link.chained {
                Some(next) => link = next,
                None => break,
            }
        }
        if head.log {
            let text = |t: &Option<super::template::Template>, c: &Collections| {
                t.as_ref().map(|t| t.expand_text(c)).unwrap_or_default()
            };
            self.logged.push(Logged {
                id: head.id,
                phase: head.phase,
                msg: text(&head.msg, &self.c),
                data: text(&head.logdata, &self.c),
                severity: head.severity.clone().unwrap_or_default(),
                tags: head.tags.clone(),
                matched: super::template::text(Cow::Borrowed(&self.c.matched_var_name)),
            });
        }
        match head.disruptive {
            Disruptive::Pass => {}
            Disruptive::Deny => self.interrupt(head.status.unwrap_or(403), head.id, false),
            Disruptive::Drop => self.interrupt(head.status.unwrap_or(403), head.id, true),
        }
        true
    }

    /// Evaluates one link; runs its per-match actions. Whether anything matched.
    fn link(&mut self, scratch: &mut Scratch, index: usize, head: &Rule, rule: &Rule) -> bool {
        let hits = &mut scratch.hits;
        hits.reset();
        if let (Some(slot), Some(summaries)) = (rule.filter_slot, rule.summaries.as_deref()) {
            let chains = &self.waf.compiled.chains;
            if !scratch.summarised.may_match(
                summaries,
                slot,
                &self.c,
                self.present,
                &mut scratch.memo,
                chains,
            ) {
                return false;
            }
        }
        self.hits(&mut scratch.memo, index, head, rule, hits);
        if hits.pairs.is_empty() {
            return false;
        }
        // The actions still see the previous link's MATCHED_VARS; this link's become them
        // afterwards, and the previous slots are kept for the next link.
        for (captures, (name, value)) in hits.captures.drain(..).zip(hits.pairs.as_slice()) {
            self.c.matched_var.clone_from(value);
            self.c.matched_var_name.clone_from(name);
            if rule.capture {
                for (i, cap) in captures.into_iter().enumerate() {
                    // At most ten groups are kept: `0` to `9`.
                    let name = [b'0' + (i % 10) as u8];
                    self.c.tx.insert(&name, TxBytes::from_vec(cap));
                }
            }
            self.actions(rule);
        }
        std::mem::swap(&mut self.c.matched_vars, &mut hits.pairs);
        true
    }

    /// Applies a `ctl` action from outside the rules (the gateway's per-route exclusions:
    /// `ruleRemoveById`, `ruleRemoveTargetById`, ...), before phase 1.
    pub fn control(&mut self, ctl: &Ctl) {
        // Removing a rule the fold analysis decided, or a TX target, ends folding.
        let folds = &self.waf.folds;
        match ctl {
            Ctl::RuleEngine(m) => self.mode = *m,
            Ctl::RemoveById(r) => {
                self.folding &= !folds.ids_unfold(*r);
                self.removals.ids.push(*r);
            }
            Ctl::RemoveByTag(t) => {
                if let Some(rules) = self.waf.compiled.tagged(t) {
                    self.folding &= !folds.rules_unfold(rules);
                    self.removals.by_tag.union(rules);
                }
            }
            Ctl::RemoveTargetById(r, t) => {
                self.folding &= !Folds::target_unfolds(t);
                self.removals.targets_by_id.push((*r, t.clone()));
            }
            Ctl::RemoveTargetByTag(tag, t) => {
                if let Some(rules) = self.waf.compiled.tagged(tag) {
                    self.folding &= !Folds::target_unfolds(t);
                    let rules = rules.clone();
                    self.removals.targets_by_tag.push((rules, t.clone()));
                }
            }
            Ctl::BodyProcessor(p) => {
                self.processor = Some(*p);
                self.c.set(Var::ReqbodyProcessor, p.name());
                self.present = self.c.present();
            }
            Ctl::ForceBodyVariable(on) => self.force_body_variable = *on,
            Ctl::BodyAccess(on) => self.body_access = *on,
            Ctl::AuditEngine => {}
        }
    }

    fn actions(&mut self, rule: &Rule) {
        for s in &rule.setvars {
            // A name without macros was numbered at load; one with macros is expanded, and
            // lowered (literal parts were lowered at load; only macros can bring capitals).
            let expanded = match s.number {
                Some(_) => Cow::Borrowed(&[][..]),
                None => {
                    let name = s.name.expand(&self.c);
                    if name.iter().any(u8::is_ascii_uppercase) {
                        Cow::Owned(name.to_ascii_lowercase())
                    } else {
                        name
                    }
                }
            };
            if s.op == SetOp::Delete {
                match s.number {
                    Some(n) => self.c.tx.remove_at(n),
                    None => self.c.tx.remove(&expanded),
                }
                continue;
            }
            let delta = (s.op != SetOp::Set).then(|| number(&s.value.expand_borrowing(&self.c)));
            let value = match s.op {
                SetOp::Set => s.value.expand(&self.c),
                _ => Cow::Borrowed(&[][..]),
            };
            let slot = match s.number {
                Some(n) => self.c.tx.entry_at(n),
                None => self.c.tx.entry(&expanded),
            };
            match (s.op, delta) {
                (SetOp::Add, Some(d)) | (SetOp::Subtract, Some(d)) => {
                    let old = number(slot);
                    let new = if s.op == SetOp::Add {
                        old.saturating_add(d)
                    } else {
                        old.saturating_sub(d)
                    };
                    slot.clear();
                    slot.extend_from_slice(itoa::Buffer::new().format(new).as_bytes());
                }
                _ => {
                    slot.clear();
                    slot.extend_from_slice(&value);
                }
            }
        }
        for ctl in &rule.controls {
            self.control(ctl);
        }
    }

    /// Writes into `out` the values of `rule`'s targets that its operator matches.
    fn hits(&self, memo: &mut Memo, index: usize, head: &Rule, rule: &Rule, out: &mut Hits) {
        let expanded = rule.argument.as_ref().map(|t| t.expand_borrowing(&self.c));
        let argument = expanded.as_deref();
        let chains = &self.waf.compiled.chains;
        let chain = chains.get(rule.chain);
        let mut test = |name: &dyn Fn(&mut Vec<u8>), value: &[u8], id: Option<ValueId>| {
            // A value that keeps its id (not TX, not MATCHED_VAR) is transformed once per
            // chain, and its regex skipped when the chain's filter rules it out.
            let Some(id) = id.filter(|_| !rule.multi_match) else {
                if let Some((value, captures)) = self.test(rule, value, argument) {
                    out.push(name, &value, captures);
                }
                return;
            };
            let found = memo.entry(id, chains.len(), rule.chain, chain, value);
            if let Some(slot) = rule.filter_slot {
                let may = memo.may_match(found, chain, value, slot);
                if rule.negated {
                    // Only phrase lists, whose filter answer is exact, give negated rules a
                    // slot: the list matched exactly when the bit is set.
                    if !may {
                        out.push(name, memo.value(found, value), Vec::new());
                    }
                    return;
                }
                if !may {
                    return;
                }
            }
            let transformed = memo.value(found, value);
            if let Some(captures) = self.run(rule, transformed, argument) {
                out.push(name, transformed, captures);
            }
        };
        if rule.always {
            test(&|_| {}, b"", None);
            return;
        }
        let narrowed = self.removals.narrow(index, head);
        let excluded = |var: Var, name: Option<&[u8]>| {
            rule.exclusions.iter().any(|t| t.excludes(var, name))
                || (narrowed && self.removals.target(index, head, var, name))
        };
        // Most rules exclude nothing: their values are not asked one by one.
        let excluded: Option<&Excluded<'_>> =
            (narrowed || !rule.exclusions.is_empty()).then_some(&excluded);
        for target in &rule.targets {
            if target.count {
                let mut n = 0usize;
                self.c.each(target, 0, excluded, &mut |_, _, _| n += 1);
                test(
                    &|out| {
                        out.push(b'&');
                        out.extend_from_slice(target.var.name().as_bytes());
                    },
                    itoa::Buffer::new().format(n).as_bytes(),
                    None,
                );
                continue;
            }
            // A variable that holds no value in this phase is not walked (a rule reading
            // several often has one or two that do).
            if !self.present.contains(target.var) {
                continue;
            }
            self.c
                .each(target, rule.min_class, excluded, &mut |key, value, id| {
                    let name = |out: &mut Vec<u8>| {
                        out.extend_from_slice(target.var.name().as_bytes());
                        if let Some(k) = key {
                            out.push(b':');
                            out.extend_from_slice(k);
                        }
                    };
                    test(&name, value, id);
                });
        }
    }

    /// Runs the operator on an already transformed value: the captures when it matched.
    fn run(&self, rule: &Rule, value: &[u8], argument: Option<&[u8]>) -> Option<Vec<Vec<u8>>> {
        let m = rule.operator.evaluate(
            value,
            argument,
            self.waf.detector(),
            rule.capture && !rule.negated,
        );
        match (m, rule.negated) {
            (Some(m), false) => Some(m.captures),
            (None, true) => Some(Vec::new()),
            _ => None,
        }
    }

    /// Transforms `value` and runs the operator: the matched (transformed) value and captures.
    fn test<'v>(
        &self,
        rule: &Rule,
        value: &'v [u8],
        argument: Option<&[u8]>,
    ) -> Option<Tested<'v>> {
        let run = |v: Cow<'v, [u8]>| -> Result<Tested<'v>, Cow<'v, [u8]>> {
            match self.run(rule, &v, argument) {
                Some(captures) => Ok((v, captures)),
                None => Err(v),
            }
        };
        if !rule.multi_match {
            return run(apply_all(&rule.transformations, value)).ok();
        }
        // `multiMatch`: the operator also sees each intermediate result that differs from the
        // one before (a step that cannot change the value is not even run).
        let mut current = match run(Cow::Borrowed(value)) {
            Ok(hit) => return Some(hit),
            Err(v) => v,
        };
        let mut triggers = Triggers::of(value);
        for t in &rule.transformations {
            if !triggers.wake(*t) {
                continue;
            }
            let next = match t.apply(&current) {
                Cow::Owned(next) if next != current.as_ref() => next,
                _ => continue,
            };
            triggers = Triggers::of(&next);
            match run(Cow::Owned(next)) {
                Ok(hit) => return Some(hit),
                Err(v) => current = v,
            }
        }
        None
    }
}
