//! XML bodies: the text of the document (`XML:/*`) and every attribute value (`XML://@*`).
//! External entities are never fetched; a document that does not parse is a body error.

use crate::engine::collections::XmlBody;

use super::Parsed;

/// Parses `body`.
pub fn parse(body: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(_) => {
            out.error = Some("XML parsing error: not UTF-8".into());
            return out;
        }
    };
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    match roxmltree::Document::parse_with_options(text, options) {
        Ok(doc) => {
            let mut xml = XmlBody::default();
            for node in doc.descendants() {
                if node.is_text() {
                    xml.text
                        .extend_from_slice(node.text().unwrap_or("").as_bytes());
                }
                for a in node.attributes() {
                    xml.attributes.push(a.value().as_bytes().to_vec());
                }
            }
            out.xml = Some(xml);
        }
        Err(e) => out.error = Some(format!("XML parsing error: {e}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes() {
        let p = parse(br#"<?xml version="1.0"?><a x="1"><b y="two">hi</b> there</a>"#);
        let xml = p.xml.unwrap();
        assert_eq!(xml.text, b"hi there");
        assert_eq!(xml.attributes, [b"1".to_vec(), b"two".to_vec()]);
        assert!(parse(b"<a><b></a>").error.is_some());
    }
}
