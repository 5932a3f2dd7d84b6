//! Detects HTTP/1 request heads that carry both Content-Length and Transfer-Encoding.
//!
//! hyper handles such a request safely (it drops Content-Length, reads the body as chunked and
//! closes the connection afterwards, as RFC 9112 §6.3 allows) but it removes the evidence, and a
//! request that frames itself two ways is a smuggling attempt we want to refuse with 400 and
//! report. This sniffer watches the bytes hyper reads: it follows heads and Content-Length bodies,
//! and stops at the first chunked body (hyper closes after a conflicting request anyway, so
//! nothing after it matters) or at an HTTP/2 preface.

/// Longest header-line prefix kept (enough for the names and a Content-Length value).
const LINE_PREFIX: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    Off,
}

/// Streaming detector, fed with every chunk read from a connection.
#[derive(Debug)]
pub struct FramingSniffer {
    state: State,
    line: [u8; LINE_PREFIX],
    line_len: usize,
    first_line: bool,
    content_length: Option<u64>,
    chunked: bool,
}

impl Default for FramingSniffer {
    fn default() -> Self {
        Self {
            state: State::Head,
            line: [0; LINE_PREFIX],
            line_len: 0,
            first_line: true,
            content_length: None,
            chunked: false,
        }
    }
}

impl FramingSniffer {
    /// Feeds bytes; returns true when a head with both framings has just ended.
    pub fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            match self.state {
                State::Off => return false,
                State::Body(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if n == take {
                        State::Head
                    } else {
                        State::Body(n - take)
                    };
                }
                State::Head => {
                    // Keep at most LINE_PREFIX bytes of the line; skip to its end at once.
                    let end = memchr::memchr(b'\n', bytes);
                    let part = &bytes[..end.unwrap_or(bytes.len())];
                    let room = LINE_PREFIX - self.line_len;
                    let keep = &part[..part.len().min(room)];
                    for (slot, b) in self.line[self.line_len..].iter_mut().zip(keep) {
                        *slot = b.to_ascii_lowercase();
                    }
                    self.line_len += keep.len();
                    let Some(end) = end else { return false };
                    bytes = &bytes[end + 1..];
                    if self.end_line() {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Handles a complete line; true on a conflict.
    fn end_line(&mut self) -> bool {
        let mut line = &self.line[..self.line_len];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.line_len = 0;
        if self.first_line {
            if line.starts_with(b"pri * http/2") {
                self.state = State::Off;
            }
            // Blank lines before a request line are tolerated by parsers.
            self.first_line = line.is_empty();
            return false;
        }
        if !line.is_empty() {
            if let Some(v) = line.strip_prefix(b"content-length:") {
                let text = std::str::from_utf8(v).unwrap_or("").trim();
                self.content_length = Some(text.parse().unwrap_or(0));
            } else if line.starts_with(b"transfer-encoding:") {
                self.chunked = true;
            }
            return false;
        }
        // End of the head.
        let conflict = self.chunked && self.content_length.is_some();
        self.state = match (self.chunked, self.content_length) {
            (true, _) => State::Off,
            (false, Some(0)) | (false, None) => State::Head,
            (false, Some(n)) => State::Body(n),
        };
        self.first_line = true;
        self.content_length = None;
        self.chunked = false;
        conflict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(parts: &[&[u8]]) -> bool {
        let mut s = FramingSniffer::default();
        parts.iter().any(|p| s.feed(p))
    }

    #[test]
    fn both_framings_in_one_head_are_detected_even_split_across_reads() {
        let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(sniff(&[req]));
        let (a, b) = req.split_at(30);
        assert!(sniff(&[a, b]));
        let bytewise: Vec<&[u8]> = req.chunks(1).collect();
        assert!(sniff(&bytewise));
    }

    #[test]
    fn bodies_are_skipped_and_later_heads_checked() {
        let body_lookalike = b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let first = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body_lookalike.len()
        );
        assert!(!sniff(&[first.as_bytes(), body_lookalike]));
        let second = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert!(sniff(&[first.as_bytes(), body_lookalike, second]));
    }

    #[test]
    fn plain_requests_and_h2_are_fine() {
        assert!(!sniff(&[
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n"
        ]));
        assert!(!sniff(&[
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ]));
        assert!(!sniff(&[
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n"
        ]));
        assert!(!sniff(&[b"", b"\n\n\n", &[0xff; 200]]));
    }
}
