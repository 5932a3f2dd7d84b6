//! Deprecated and retiring operations: `Deprecation` (RFC 9745; `true` when the spec gives no
//! date) and `Sunset` (RFC 8594) headers on every answer, and 410 once the sunset has passed
//! when the API refuses retired operations.

use http::header::{HeaderName, HeaderValue};
use jiff::Timestamp;

use super::{Answer, Exchange, Flow, Stage, Step};
use crate::problem::Refusal;

/// The `Deprecation` header.
static DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
/// The `Sunset` header.
static SUNSET: HeaderName = HeaderName::from_static("sunset");

/// Announces (and enforces) an operation's retirement.
pub struct Deprecation {
    headers: Vec<(HeaderName, HeaderValue)>,
    refuse_from: Option<Timestamp>,
}

impl Deprecation {
    /// The stage for an operation that is `deprecated` and/or has a `sunset`; None when it is
    /// neither.
    pub fn new(
        deprecated: bool,
        sunset: Option<Timestamp>,
        refuse_after_sunset: bool,
    ) -> Option<Self> {
        if !deprecated && sunset.is_none() {
            return None;
        }
        let mut headers = Vec::new();
        if deprecated {
            headers.push((DEPRECATION.clone(), HeaderValue::from_static("true")));
        }
        if let Some(at) = sunset {
            let date = at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
            if let Ok(v) = HeaderValue::from_str(&date) {
                headers.push((SUNSET.clone(), v));
            }
        }
        Some(Self {
            headers,
            refuse_from: sunset.filter(|_| refuse_after_sunset),
        })
    }
}

/// A sunset date as written in a spec or config: `2027-01-31` (midnight UTC) or an RFC 3339
/// time.
pub fn parse_sunset(text: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    t.parse::<jiff::civil::Date>()
        .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|_| {
            format!("invalid sunset {t:?}: write a date such as 2027-01-31 or an RFC 3339 time")
        })
}

impl Stage for Deprecation {
    fn name(&self) -> &'static str {
        "deprecation"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        ex.response_headers.extend(self.headers.iter().cloned());
        if self.refuse_from.is_some_and(|at| Timestamp::now() >= at) {
            return Step::Done(Flow::Respond(Answer::from(Refusal::Sunset)));
        }
        Step::Done(Flow::Continue)
    }
}
