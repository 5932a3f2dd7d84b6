//! `portcullis bans`: list, add and lift bans on a running gateway through its admin API (bans
//! live in the gateway's memory).

use clap::Subcommand;

use crate::admin_client::Admin;

/// Ban commands.
#[derive(Subcommand)]
pub enum BansCommand {
    /// List banned client IPs.
    List {
        #[command(flatten)]
        admin: Admin,
    },
    /// Ban a client IP now.
    Add {
        #[command(flatten)]
        admin: Admin,
        /// The IP address.
        ip: String,
        /// How long, e.g. 1h.
        #[arg(long, default_value = "1h")]
        duration: String,
    },
    /// Lift a ban.
    Remove {
        #[command(flatten)]
        admin: Admin,
        /// The IP address.
        ip: String,
    },
}

/// Runs a ban command.
pub fn run(command: BansCommand) -> anyhow::Result<()> {
    let (admin, method, path, body) = match command {
        BansCommand::List { admin } => (admin, "GET", "/bans".to_owned(), String::new()),
        BansCommand::Add {
            admin,
            ip,
            duration,
        } => (
            admin,
            "POST",
            "/bans".to_owned(),
            serde_json::json!({"ip": ip, "duration": duration}).to_string(),
        ),
        BansCommand::Remove { admin, ip } => {
            (admin, "DELETE", format!("/bans/{ip}"), String::new())
        }
    };
    println!("{}", admin.call(method, &path, &body)?);
    Ok(())
}
