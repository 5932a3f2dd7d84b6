//! `portcullis waf`: tools for SecLang rule sets.

use std::path::PathBuf;

use clap::Subcommand;

/// WAF subcommands.
#[derive(Debug, Subcommand)]
pub enum WafCommand {
    /// Parse and compile rule files (in order; globs allowed, e.g. 'rules/*.conf') and report
    /// every error as file:line: message.
    Lint {
        /// Rule files: the setup first, then the rules.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run go-ftw regression tests (CRS's tests/ directory) in-process against a rule set.
    Test {
        /// The rules directory (every *.conf in it is loaded, in name order).
        #[arg(long)]
        rules: PathBuf,
        /// Setup files loaded before the rules (e.g. the test engine setup, then
        /// crs-setup.conf.example).
        #[arg(long, required = true)]
        setup: Vec<PathBuf>,
        /// The directory of YAML test files.
        #[arg(long)]
        tests: PathBuf,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Lowest pass rate (percent) accepted; below it the command fails.
        #[arg(long, default_value_t = 0.0)]
        min_pass_rate: f64,
    },
}

/// Runs a WAF subcommand.
pub fn run(command: WafCommand) -> anyhow::Result<()> {
    match command {
        WafCommand::Lint { files } => {
            let set = portcullis_waf::seclang::load(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
            let waf =
                portcullis_waf::engine::Waf::compile(&set).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} rules, {} directives, {} active after removals: OK",
                set.rules().count(),
                set.directives.len(),
                waf.rule_count()
            );
            Ok(())
        }
        WafCommand::Test {
            rules,
            setup,
            tests,
            json,
            min_pass_rate,
        } => {
            let mut files = setup;
            files.push(rules.join("*.conf"));
            let waf = std::sync::Arc::new(
                portcullis_waf::engine::Waf::load(&files).map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            let report =
                portcullis_waf::ftw::run(&waf, &tests).map_err(|e| anyhow::anyhow!("{e}"))?;
            for f in report.failures() {
                println!(
                    "FAIL {} ({}): {}",
                    f.name,
                    f.file.display(),
                    f.failure.as_deref().unwrap_or("")
                );
            }
            let total = report.outcomes.len();
            let passed = report.passed();
            let rate = if total == 0 {
                0.0
            } else {
                passed as f64 * 100.0 / total as f64
            };
            println!("{passed}/{total} tests passed ({rate:.2}%)");
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report.to_json())?)?;
            }
            anyhow::ensure!(
                rate >= min_pass_rate,
                "pass rate {rate:.2}% is below the required {min_pass_rate}%"
            );
            Ok(())
        }
    }
}
