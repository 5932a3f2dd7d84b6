//! What is wrong with a request or response: a JSON pointer and a reason, bounded in number and
//! never carrying the offending value.
//!
//! Pointers start with where the value came from: `/body/items/0/qty`, `/query/limit`,
//! `/path/id`, `/header/x-trace`, `/cookie/session`. Segments that come from the input (property
//! names a client made up) are cut short and reduced to safe characters, so a refusal never
//! reflects hostile text back.

use serde::Serialize;

/// Longest input-derived pointer segment kept in a violation.
const MAX_SEGMENT: usize = 40;

/// One thing wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Where (RFC 6901 JSON pointer, prefixed with the value's origin).
    pub pointer: String,
    /// Why, in words that name schema facts (types, bounds, property names from the spec),
    /// never the input's value.
    pub reason: String,
}

/// A bounded list of violations. Once full, validation stops early.
#[derive(Debug, Clone)]
pub struct Violations {
    list: Vec<Violation>,
    max: usize,
    more: bool,
}

impl Violations {
    /// An empty list that keeps at most `max` violations (at least one).
    pub fn new(max: usize) -> Self {
        Self {
            list: Vec::new(),
            max: max.max(1),
            more: false,
        }
    }

    /// Records a violation (dropped, and noted, when the list is full).
    pub fn push(&mut self, pointer: &str, reason: impl Into<String>) {
        if self.list.len() < self.max {
            self.list.push(Violation {
                pointer: pointer.to_owned(),
                reason: reason.into(),
            });
        } else {
            self.more = true;
        }
    }

    /// How many more violations fit.
    pub(crate) fn room(&self) -> usize {
        self.max - self.list.len().min(self.max)
    }

    /// No violation recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The list is full: further checks would be wasted.
    pub fn is_full(&self) -> bool {
        self.list.len() >= self.max
    }

    /// Whether the list filled up: checking stopped there, so there may be more.
    pub fn truncated(&self) -> bool {
        self.more || self.is_full()
    }

    /// The recorded violations.
    pub fn as_slice(&self) -> &[Violation] {
        &self.list
    }

    /// Takes the recorded violations.
    pub fn into_vec(self) -> Vec<Violation> {
        self.list
    }
}

/// A pointer under construction: segments are pushed and popped as validation descends, and
/// only rendered as text when a violation needs it (valid input allocates nothing here).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pointer<'v> {
    root: String,
    segments: Vec<Segment<'v>>,
}

#[derive(Debug, Clone, Copy)]
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

impl<'v> Pointer<'v> {
    pub(crate) fn new(root: &str) -> Self {
        Self {
            root: root.to_owned(),
            segments: Vec::new(),
        }
    }

    /// The pointer as text, input-derived segments made safe.
    pub(crate) fn render(&self) -> String {
        let mut out = self.root.clone();
        for s in &self.segments {
            out.push('/');
            match s {
                Segment::Key(k) => push_safe(&mut out, k),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    /// Appends a key taken from the input.
    pub(crate) fn push(&mut self, key: &'v str) {
        self.segments.push(Segment::Key(key));
    }

    /// Appends an array index.
    pub(crate) fn push_index(&mut self, index: usize) {
        self.segments.push(Segment::Index(index));
    }

    /// Removes the last segment.
    pub(crate) fn pop(&mut self) {
        self.segments.pop();
    }
}

/// `segment` reduced to characters that are safe to show, escaped as RFC 6901 asks, cut at
/// [`MAX_SEGMENT`] characters.
pub fn safe_segment(segment: &str) -> String {
    let mut out = String::new();
    push_safe(&mut out, segment);
    out
}

fn push_safe(out: &mut String, segment: &str) {
    for (n, c) in segment.chars().enumerate() {
        if n == MAX_SEGMENT {
            out.push_str("...");
            return;
        }
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']') => {
                out.push(c)
            }
            _ => out.push('?'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_segments_are_neutralised() {
        assert_eq!(
            safe_segment("<script>alert(1)</script>"),
            "?script?alert?1??~1script?"
        );
        assert_eq!(safe_segment("a/b~c"), "a~1b~0c");
        assert_eq!(safe_segment(&"x".repeat(100)).len(), MAX_SEGMENT + 3);
    }

    #[test]
    fn list_is_bounded() {
        let mut v = Violations::new(2);
        for _ in 0..5 {
            v.push("/body", "bad");
        }
        assert_eq!(v.as_slice().len(), 2);
        assert!(v.truncated() && v.is_full());
    }
}
