//! `portcullis bans`: list, add and lift bans on a running gateway through its admin API (bans
//! live in the gateway's memory).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;

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

/// How to reach the admin API.
#[derive(clap::Args)]
pub struct Admin {
    /// Admin listener address (IP:PORT).
    #[arg(long, default_value = "127.0.0.1:9901")]
    admin: String,
    /// File holding the admin token.
    #[arg(long)]
    token_file: PathBuf,
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
    let token = std::fs::read_to_string(&admin.token_file)
        .with_context(|| format!("reading {}", admin.token_file.display()))?;
    let answer = call(&admin.admin, method, &path, token.trim(), &body)?;
    println!("{answer}");
    Ok(())
}

/// One HTTP/1.1 exchange with the admin listener; returns the body, or an error with it.
fn call(addr: &str, method: &str, path: &str, token: &str, body: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(addr)
        .with_context(|| format!("connecting to the admin API at {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if !status.starts_with('2') {
        bail!("admin API answered {status}: {body}");
    }
    Ok(body.to_owned())
}
