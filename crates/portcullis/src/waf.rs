//! `portcullis waf`: tools for SecLang rule sets.

use std::path::PathBuf;

use clap::Subcommand;

/// WAF subcommands.
#[derive(Debug, Subcommand)]
pub enum WafCommand {
    /// Parse rule files (in order; globs allowed, e.g. 'rules/*.conf') and report every error
    /// as file:line: message.
    Lint {
        /// Rule files: the setup first, then the rules.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs a WAF subcommand.
pub fn run(command: WafCommand) -> anyhow::Result<()> {
    match command {
        WafCommand::Lint { files } => {
            let set = portcullis_waf::seclang::load(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} rules, {} directives: OK",
                set.rules().count(),
                set.directives.len()
            );
            Ok(())
        }
    }
}
