//! Where a value sits in a YAML (or JSON) text: maps a path of keys and indexes to the 1-based
//! line and column where its value starts, by walking the YAML events once.
//!
//! Used to turn "the schema at `#/paths/~1users/get`" or "the key `apis.0.routes.1.upstream`"
//! into `file:line:column`. A path that is not found falls back to its nearest ancestor.

use std::collections::HashMap;

use granit_parser::{Event, Parser};

/// Separates path segments in the map's keys (a byte that never appears in a YAML key a
/// person writes, unlike `.` or `/`).
const SEP: char = '\u{1f}';

/// Line and column of every value in one document.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    places: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

impl SourceMap {
    /// Indexes `text`. Text that is not YAML gives whatever was read before the error.
    pub fn new(text: &str) -> Self {
        let mut places = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let at = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { key: key @ None }) = stack.last_mut() {
                        *key = Some(value.into_owned());
                        places.insert(key_of(&stack), at);
                        continue;
                    }
                    places.insert(key_of(&stack), at);
                    advance(&mut stack);
                }
                Event::Alias(_) => {
                    places.entry(key_of(&stack)).or_insert(at);
                    advance(&mut stack);
                }
                Event::MappingStart(..) => {
                    places.entry(key_of(&stack)).or_insert(at);
                    stack.push(Frame::Map { key: None });
                }
                Event::SequenceStart(..) => {
                    places.entry(key_of(&stack)).or_insert(at);
                    stack.push(Frame::Seq { index: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    advance(&mut stack);
                }
                _ => {}
            }
        }
        Self { places }
    }

    /// The place of the value at `segments`, or of its nearest located ancestor.
    pub fn locate<S: AsRef<str>>(&self, segments: &[S]) -> (usize, usize) {
        let mut key: String = segments
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(&SEP.to_string());
        loop {
            if let Some(at) = self.places.get(&key) {
                return *at;
            }
            match key.rfind(SEP) {
                Some(i) => key.truncate(i),
                None if key.is_empty() => return (1, 1),
                None => key.clear(),
            }
        }
    }

    /// The place of a dotted path such as `apis.0.routes.1.upstream`.
    pub fn locate_dotted(&self, path: &str) -> (usize, usize) {
        let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
        self.locate(&segments)
    }

    /// The place of a JSON pointer such as `/paths/~1users/get` (RFC 6901 escapes).
    pub fn locate_pointer(&self, pointer: &str) -> (usize, usize) {
        self.locate(&pointer_segments(pointer))
    }
}

/// The unescaped segments of a JSON pointer (`~1` is `/`, `~0` is `~`).
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A segment escaped for a JSON pointer.
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn key_of(stack: &[Frame]) -> String {
    let mut out = String::new();
    let mut first = true;
    for frame in stack {
        let part = match frame {
            Frame::Map { key: Some(k) } => k.as_str(),
            Frame::Map { key: None } => continue,
            Frame::Seq { index } => {
                if !first {
                    out.push(SEP);
                }
                first = false;
                out.push_str(&index.to_string());
                continue;
            }
        };
        if !first {
            out.push(SEP);
        }
        first = false;
        out.push_str(part);
    }
    out
}

fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key }) => *key = None,
        Some(Frame::Seq { index }) => *index += 1,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "listeners:\n  - name: a\n    bind: 127.0.0.1:1\napis:\n  - name: x\n    routes:\n      - path: /a\n        upstream: nope\n";

    #[test]
    fn finds_nested_values_by_dotted_path() {
        let m = SourceMap::new(YAML);
        assert_eq!(m.locate_dotted("apis.0.routes.0.upstream"), (8, 19));
        assert_eq!(m.locate_dotted("listeners.0.bind"), (3, 11));
        // An unknown child falls back to its parent.
        assert_eq!(m.locate_dotted("apis.0.routes.0.nothing"), (7, 9));
    }

    #[test]
    fn finds_keys_with_slashes_and_dots_by_pointer() {
        let m = SourceMap::new("paths:\n  /v1.0/users:\n    get:\n      operationId: x\n");
        assert_eq!(
            m.locate_pointer("/paths/~1v1.0~1users/get/operationId"),
            (4, 20)
        );
        assert_eq!(pointer_segments("/a~1b/c~0d"), ["a/b", "c~d"]);
        assert_eq!(escape_segment("/a~"), "~1a~0");
    }

    #[test]
    fn json_text_is_located_too() {
        let m = SourceMap::new("{\n  \"openapi\": \"3.1.0\",\n  \"paths\": {\"/x\": {}}\n}\n");
        assert_eq!(m.locate_pointer("/paths/~1x").0, 3);
    }
}
