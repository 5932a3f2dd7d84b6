//! The CLI's client for a running gateway's admin API (plain HTTP on a loopback or management
//! address, bearer token read from a file).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

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

impl Admin {
    /// One exchange; returns the body of a 2xx answer, or an error with the answer.
    pub fn call(&self, method: &str, path: &str, body: &str) -> anyhow::Result<String> {
        let token = std::fs::read_to_string(&self.token_file)
            .with_context(|| format!("reading {}", self.token_file.display()))?;
        call(&self.admin, method, path, token.trim(), body)
    }
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
