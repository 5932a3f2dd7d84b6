//! Default deny: an API that is neither `public: true` nor protected by authentication refuses
//! every request with 403. Least privilege holds even for a config written in a hurry.

use super::{Exchange, Stage, Step};
use crate::problem::Refusal;

/// Refuses everything on a route of a non-public API without authentication.
pub struct DefaultDeny;

impl Stage for DefaultDeny {
    fn name(&self) -> &'static str {
        "default_deny"
    }

    fn on_request<'a>(&'a self, _exchange: &'a mut Exchange<'_>) -> Step<'a> {
        Step::Done(Refusal::AccessDenied.into())
    }
}
