//! OWASP CRS 4, unmodified, loads: the test-engine setup, CRS's setup file and every rule file
//! parse without an error, chains are grouped, and every operator compiles (each `@rx` with the
//! linear-time `regex` engine, each `@pmFromFile` word list). Then CRS's own regression tests
//! (go-ftw YAML) run in-process and at least 99% must pass; every failure is printed with its
//! reason.
//!
//! CRS is not in this repository. `.ci/run` sets `PORTCULLIS_CRS` to `../shared/crs` (and then a
//! missing directory is a failure); a fresh clone without it skips this test, saying so.

use std::path::PathBuf;

use portcullis_waf::engine::Waf;
use portcullis_waf::operator::Operator;
use portcullis_waf::seclang::{self, ast::Rule};

fn crs_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PORTCULLIS_CRS") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("rules").is_dir(),
            "PORTCULLIS_CRS={} has no rules/",
            dir.display()
        );
        return Some(dir);
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    beside.join("rules").is_dir().then_some(beside)
}

fn all_rules(rule: &Rule) -> Vec<&Rule> {
    let mut out = vec![rule];
    let mut next = rule.chained.as_deref();
    while let Some(r) = next {
        out.push(r);
        next = r.chained.as_deref();
    }
    out
}

#[test]
fn crs_4_loads_unmodified() {
    let Some(dir) = crs_dir() else {
        eprintln!("skipped: OWASP CRS not found (set PORTCULLIS_CRS or place it in ../shared/crs)");
        return;
    };
    let set = seclang::load(&[
        dir.join("test-setup.conf"),
        dir.join("crs-setup.conf.example"),
        dir.join("rules/*.conf"),
    ])
    .unwrap_or_else(|e| panic!("CRS does not load:\n{e}"));
    let heads: Vec<&Rule> = set.rules().collect();
    let every: Vec<&Rule> = heads.iter().flat_map(|r| all_rules(r)).collect();
    assert!(heads.len() > 500, "only {} rules", heads.len());
    assert!(every.len() > heads.len(), "no chains grouped");
    let mut ids: Vec<u64> = heads.iter().filter_map(|r| r.id()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate rule ids");
    // Every operator compiles: each @rx with the linear-time engine, each @pmFromFile list.
    let mut failed = Vec::new();
    for r in &every {
        let base = r.place.file.parent().unwrap_or(std::path::Path::new("."));
        if let Err(e) = Operator::compile(&r.operator.name, &r.operator.argument, base) {
            failed.push(format!("{}:{}: {e}", r.place.file.display(), r.place.line));
        }
    }
    assert!(
        failed.is_empty(),
        "operators that do not compile:\n{}",
        failed.join("\n")
    );
    eprintln!(
        "CRS: {} rules ({} with chained parts), {} directives",
        heads.len(),
        every.len(),
        set.directives.len()
    );
}

#[test]
fn crs_regression_tests_pass() {
    let Some(dir) = crs_dir() else {
        eprintln!("skipped: OWASP CRS not found (set PORTCULLIS_CRS or place it in ../shared/crs)");
        return;
    };
    let waf = std::sync::Arc::new(
        Waf::load(&[
            dir.join("test-setup.conf"),
            dir.join("crs-setup.conf.example"),
            dir.join("rules/*.conf"),
        ])
        .unwrap_or_else(|e| panic!("CRS does not compile:\n{e}")),
    );
    let report = portcullis_waf::ftw::run(&waf, &dir.join("tests")).unwrap();
    for f in report.failures() {
        eprintln!("FAIL {}: {}", f.name, f.failure.as_deref().unwrap_or(""));
    }
    let total = report.outcomes.len();
    assert!(total > 1000, "only {total} tests found");
    let passed = report.passed();
    eprintln!("CRS regression tests: {passed}/{total} passed");
    assert!(passed * 100 >= total * 99, "{passed}/{total} is below 99%");
}

/// The literal filters skip a regex only where it cannot match, and folded rules are decided
/// as the engine would decide them: CRS's whole suite (attacks for every rule, and clean
/// requests) logs exactly the same rules with the filters off and every rule evaluated.
#[test]
fn literal_filters_and_folding_change_no_match() {
    let Some(dir) = crs_dir() else {
        eprintln!("skipped: OWASP CRS not found (set PORTCULLIS_CRS or place it in ../shared/crs)");
        return;
    };
    let load = || {
        Waf::load(&[
            dir.join("test-setup.conf"),
            dir.join("crs-setup.conf.example"),
            dir.join("rules/*.conf"),
        ])
        .unwrap_or_else(|e| panic!("CRS does not compile:\n{e}"))
    };
    let filtered = load();
    assert!(
        filtered.folded_count() > 100,
        "only {} rules folded",
        filtered.folded_count()
    );
    let filtered = std::sync::Arc::new(filtered);
    let mut plain = load();
    plain.set_literal_filters(false);
    plain.unfold();
    let plain = std::sync::Arc::new(plain);
    let tests = dir.join("tests");
    let a = portcullis_waf::ftw::run(&filtered, &tests).unwrap();
    let b = portcullis_waf::ftw::run(&plain, &tests).unwrap();
    assert_eq!(a.outcomes.len(), b.outcomes.len());
    let differ: Vec<String> = a
        .outcomes
        .iter()
        .zip(&b.outcomes)
        .filter(|(x, y)| x.matched != y.matched)
        .map(|(x, y)| {
            format!(
                "{}: {:?} filtered and folded, {:?} neither",
                x.name, x.matched, y.matched
            )
        })
        .collect();
    let matched: usize = a.outcomes.iter().map(|o| o.matched.len()).sum();
    assert!(
        matched > 5000,
        "only {matched} matches: the suite did not run"
    );
    assert!(
        differ.is_empty(),
        "filters or folding changed matches:\n{}",
        differ.join("\n")
    );
}
