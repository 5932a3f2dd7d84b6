//! Path parameters of a request, by the route's template (`/users/{id}` and `/users/7` give
//! `id = 7`, still percent-encoded as the client sent it).

/// Extracts the parameters of one route's path template.
pub struct PathParams {
    router: matchit::Router<()>,
}

impl PathParams {
    /// The extractor for the route whose full path template is `template`.
    pub fn new(template: &str) -> Self {
        let mut router = matchit::Router::new();
        for p in crate::route::matchit_paths(template).unwrap_or_default() {
            let _ = router.insert(p, ());
        }
        Self { router }
    }

    /// Calls `f` with the (name, raw value) pairs of `path` (none when it does not match).
    pub fn with<T>(&self, path: &str, f: impl FnOnce(&[(&str, &str)]) -> T) -> T {
        match self.router.at(path) {
            Ok(m) => {
                let pairs: Vec<(&str, &str)> = m.params.iter().collect();
                f(&pairs)
            }
            Err(_) => f(&[]),
        }
    }
}
