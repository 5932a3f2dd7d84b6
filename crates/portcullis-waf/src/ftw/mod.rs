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
pub use model::{Stage, TestFile};

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `RULE-ID-TEST` as go-ftw names it (`920100-3`).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Why it failed (`None`: passed).
    pub failure: Option<String>,
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

/// Runs every test file under `dir` against `waf`.
pub fn run(waf: &Arc<Waf>, dir: &Path) -> Result<Report, String> {
    let mut report = Report::default();
    for path in test_files(dir)? {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = model::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for test in &file.tests {
            let failure = test.stages.iter().enumerate().find_map(|(i, stage)| {
                judge(waf, stage).err().map(|why| {
                    if test.stages.len() > 1 {
                        format!("stage {}: {why}", i + 1)
                    } else {
                        why
                    }
                })
            });
            report.outcomes.push(Outcome {
                name: format!("{}-{}", file.rule_id, test.test_id),
                file: path.clone(),
                failure,
            });
        }
    }
    Ok(report)
}

/// What one stage produced.
struct Exchange {
    status: Option<u16>,
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
                log: Vec::new(),
                ids: Vec::new(),
                broken: false,
            })
        }
    };
    let mut tx = waf.transaction(&received.head);
    let mut status = None;
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
        if let Some(i) = tx.response_headers(response.status, &response.headers) {
            status = Some(i.status);
        } else if let Some(i) = tx.response_body(&response.body) {
            status = Some(i.status);
        } else {
            status = Some(response.status);
        }
    }
    tx.logging();
    let mut log: Vec<String> = tx.logged().iter().map(|l| l.line()).collect();
    if let Some(e) = tx.body_error() {
        log.push(format!("Request body parsing error: {e}"));
    }
    Ok(Exchange {
        status: if received.broken { None } else { status },
        ids: tx.logged().iter().map(|l| l.id).collect(),
        log,
        broken: received.broken,
    })
}

fn judge(waf: &Arc<Waf>, stage: &Stage) -> Result<(), String> {
    let out = exchange(waf, stage)?;
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
    let joined = out.log.join("\n");
    if let Some(re) = &expect.log.match_regex {
        let re = Regex::new(re).map_err(|e| format!("match_regex: {e}"))?;
        if !re.is_match(&joined) {
            return Err(format!("log does not match {re}"));
        }
    }
    if let Some(re) = &expect.log.no_match_regex {
        let re = Regex::new(re).map_err(|e| format!("no_match_regex: {e}"))?;
        if re.is_match(&joined) {
            return Err(format!("log matches {re}"));
        }
    }
    Ok(())
}
