//! The CRS regression suite, in-process: go-ftw YAML test files are read, each stage's request
//! is built as go-ftw builds it, received by a strict in-process server, run through the WAF
//! (phases 1-5, with a response from an albedo-like backend), and judged on `expect_ids`,
//! `no_expect_ids`, `status`, `match_regex`, `no_match_regex` and `expect_error`.

mod backend;
mod model;
pub mod wire;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

use crate::engine::Waf;
pub use model::{Stage, StageEntry, TestFile};

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `RULE-ID-TEST` as go-ftw names it (`920100-3`).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Why it failed (`None`: passed).
    pub failure: Option<String>,
    /// The ids of the rules that logged a match, stage after stage.
    pub matched: Vec<u64>,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every test, in order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// How many passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.failure.is_none()).count()
    }

    /// The failures.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.failure.is_some())
    }

    /// The report as JSON (totals and every failure with its reason).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "total": self.outcomes.len(),
            "passed": self.passed(),
            "failed": self.outcomes.len() - self.passed(),
            "failures": self.failures().map(|o| serde_json::json!({
                "test": o.name,
                "file": o.file.display().to_string(),
                "reason": o.failure,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Every `*.yaml` file under `dir`, sorted.
pub fn test_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries {
            let path = e.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs every test file under `dir` against `waf`. A file that cannot be read or parsed
/// counts as one failed test, with the reason.
pub fn run(waf: &Arc<Waf>, dir: &Path) -> Result<Report, String> {
    let mut report = Report::default();
    for path in test_files(dir)? {
        let stem = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| model::parse(&text));
        let file = match parsed {
            Ok(f) => f,
            Err(e) => {
                report.outcomes.push(Outcome {
                    name: stem,
                    file: path.clone(),
                    failure: Some(format!("unreadable test file: {e}")),
                    matched: Vec::new(),
                });
                continue;
            }
        };
        let rule = file.rule_id.map_or(stem, |id| id.to_string());
        for test in &file.tests {
            let stages: Vec<&Stage> = test.stages.iter().map(StageEntry::stage).collect();
            let mut matched = Vec::new();
            let failure = stages.iter().enumerate().find_map(|(i, stage)| {
                judge(waf, stage, &mut matched).err().map(|why| {
                    if stages.len() > 1 {
                        format!("stage {}: {why}", i + 1)
                    } else {
                        why
                    }
                })
            });
            report.outcomes.push(Outcome {
                name: format!("{rule}-{}", test.name()),
                file: path.clone(),
                failure,
                matched,
            });
        }
    }
    Ok(report)
}

/// What one stage produced.
struct Exchange {
    status: Option<u16>,
    body: Vec<u8>,
    log: Vec<String>,
    ids: Vec<u64>,
    broken: bool,
}

fn exchange(waf: &Arc<Waf>, stage: &Stage) -> Result<Exchange, String> {
    let raw = wire::build(&stage.input)?;
    let received = match wire::receive(&raw) {
        Ok(r) => r,
        Err(status) => {
            return Ok(Exchange {
                status: Some(status),
                body: Vec::new(),
                log: Vec::new(),
                ids: Vec::new(),
                broken: false,
            })
        }
    };
    let mut tx = waf.transaction(received.head.clone());
    let mut status = None;
    let mut body = Vec::new();
    if let Some(i) = tx.request_headers() {
        status = Some(i.status);
    }
    if status.is_none() {
        if let Some(i) = tx.request_body(&received.body) {
            status = Some(i.status);
        }
    }
    if status.is_none() {
        let response = backend::respond(&received);
        if let Some(i) = tx.response_headers(response.status, response.headers.clone()) {
            status = Some(i.status);
        } else if let Some(i) = tx.response_body(&response.body) {
            status = Some(i.status);
        } else {
            status = Some(response.status);
            body = response.body;
        }
    }
    tx.logging();
    let mut log: Vec<String> = tx.logged().iter().map(|l| l.line()).collect();
    if let Some(e) = tx.body_error() {
        log.push(format!("Request body parsing error: {e}"));
    }
    Ok(Exchange {
        status: if received.broken { None } else { status },
        body,
        ids: tx.logged().iter().map(|l| l.id).collect(),
        log,
        broken: received.broken,
    })
}

/// Judges one stage; the ids it matched are added to `matched`.
fn judge(waf: &Arc<Waf>, stage: &Stage, matched: &mut Vec<u64>) -> Result<(), String> {
    let out = exchange(waf, stage)?;
    matched.extend(&out.ids);
    let expect = &stage.output;
    if expect.expect_error == Some(true) && !out.broken {
        return Err("expected a connection error, got a response".into());
    }
    if let Some(want) = expect.status {
        match out.status {
            Some(got) if got == want => {}
            got => return Err(format!("status {got:?}, expected {want}")),
        }
    }
    for id in &expect.log.expect_ids {
        if !out.ids.contains(id) {
            return Err(format!("rule {id} did not match (matched: {:?})", out.ids));
        }
    }
    for id in &expect.log.no_expect_ids {
        if out.ids.contains(id) {
            return Err(format!("rule {id} matched but must not"));
        }
    }
    if expect.isolated {
        if let Some(other) = out
            .ids
            .iter()
            .find(|id| !expect.log.expect_ids.contains(id))
        {
            return Err(format!("isolated: rule {other} matched too"));
        }
    }
    let joined = out.log.join("\n");
    let wanted = [&expect.log.match_regex, &expect.log_contains];
    for (key, re) in ["match_regex", "log_contains"].iter().zip(wanted) {
        if let Some(re) = re {
            let re = Regex::new(re).map_err(|e| format!("{key}: {e}"))?;
            if !re.is_match(&joined) {
                return Err(format!("log does not match {re}"));
            }
        }
    }
    let unwanted = [&expect.log.no_match_regex, &expect.no_log_contains];
    for (key, re) in ["no_match_regex", "no_log_contains"].iter().zip(unwanted) {
        if let Some(re) = re {
            let re = Regex::new(re).map_err(|e| format!("{key}: {e}"))?;
            if re.is_match(&joined) {
                return Err(format!("log matches {re}"));
            }
        }
    }
    if let Some(re) = &expect.response_contains {
        let re = Regex::new(re).map_err(|e| format!("response_contains: {e}"))?;
        if !re.is_match(&String::from_utf8_lossy(&out.body)) {
            return Err(format!("response does not match {re}"));
        }
    }
    Ok(())
}
