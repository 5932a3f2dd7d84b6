//! `portcullis quotas`: list and reset quota counters on a running gateway through its admin API.

use clap::Subcommand;

use crate::admin_client::Admin;

/// Quota commands.
#[derive(Subcommand)]
pub enum QuotasCommand {
    /// List the counters of the current periods (embedded backend).
    List {
        #[command(flatten)]
        admin: Admin,
    },
    /// Show one counter (both backends).
    Show {
        #[command(flatten)]
        admin: Admin,
        /// The counter key.
        key: String,
    },
    /// Reset one counter (its key as `list` shows it).
    Reset {
        #[command(flatten)]
        admin: Admin,
        /// The counter key.
        key: String,
    },
}

/// Runs a quota command.
pub fn run(command: QuotasCommand) -> anyhow::Result<()> {
    let answer = match command {
        QuotasCommand::List { admin } => admin.call("GET", "/quotas", "")?,
        QuotasCommand::Show { admin, key } => admin.call(
            "POST",
            "/quotas/usage",
            &serde_json::json!({ "key": key }).to_string(),
        )?,
        QuotasCommand::Reset { admin, key } => admin.call(
            "POST",
            "/quotas/reset",
            &serde_json::json!({ "key": key }).to_string(),
        )?,
    };
    println!("{answer}");
    Ok(())
}
