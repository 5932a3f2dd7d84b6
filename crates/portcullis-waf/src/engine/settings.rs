//! Engine settings (`SecRuleEngine`, body access and limits, ...).

use super::actions::EngineMode;

/// How the engine treats transactions.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SecRuleEngine` (default On: a rule set that forgets to say so still protects).
    pub mode: EngineMode,
    /// `SecRequestBodyAccess` (default On).
    pub request_body_access: bool,
    /// `SecResponseBodyAccess` (default Off).
    pub response_body_access: bool,
    /// `SecRequestBodyLimit`: the largest body inspected (bytes).
    pub request_body_limit: usize,
    /// `SecRequestBodyNoFilesLimit`: the same, not counting uploaded files.
    pub request_body_no_files_limit: usize,
    /// `SecRequestBodyLimitAction Reject` (otherwise only the first bytes are inspected).
    pub request_body_limit_reject: bool,
    /// `SecResponseBodyLimit`.
    pub response_body_limit: usize,
    /// `SecResponseBodyLimitAction Reject`.
    pub response_body_limit_reject: bool,
    /// `SecResponseBodyMimeType`: response types whose body is inspected (lowercase).
    pub response_mime_types: Vec<String>,
    /// `SecArgumentSeparator`.
    pub argument_separator: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: EngineMode::On,
            request_body_access: true,
            response_body_access: false,
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 131_072,
            request_body_limit_reject: true,
            response_body_limit: 524_288,
            response_body_limit_reject: false,
            response_mime_types: vec!["text/plain".into(), "text/html".into()],
            argument_separator: b'&',
        }
    }
}

impl Settings {
    /// Applies directive `name` with `args` (settings without effect here are accepted).
    pub fn apply(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let first = args.first().map(String::as_str).unwrap_or("");
        let on = || first.eq_ignore_ascii_case("on");
        let size = || {
            first
                .parse::<usize>()
                .map_err(|_| format!("{name}: {first:?} is not a size in bytes"))
        };
        match name {
            "SecRuleEngine" => self.mode = EngineMode::parse(first)?,
            "SecRequestBodyAccess" => self.request_body_access = on(),
            "SecResponseBodyAccess" => self.response_body_access = on(),
            "SecRequestBodyLimit" => self.request_body_limit = size()?,
            "SecRequestBodyNoFilesLimit" => self.request_body_no_files_limit = size()?,
            "SecResponseBodyLimit" => self.response_body_limit = size()?,
            "SecRequestBodyLimitAction" => self.request_body_limit_reject = first == "Reject",
            "SecResponseBodyLimitAction" => self.response_body_limit_reject = first == "Reject",
            "SecResponseBodyMimeType" => {
                self.response_mime_types = args
                    .iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(str::to_ascii_lowercase)
                    .collect();
            }
            "SecArgumentSeparator" => match first.as_bytes() {
                [b] => self.argument_separator = *b,
                _ => return Err(format!("{name} takes one character")),
            },
            _ => {}
        }
        Ok(())
    }
}
