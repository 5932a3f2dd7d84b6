//! Transformations (`t:name`): what a rule does to a value before its operator sees it. They
//! work on bytes (request data need not be UTF-8) and follow ModSecurity's definitions, which
//! CRS is written against.
//!
//! Each returns `Cow::Borrowed` when it changes nothing, so a chain of transformations over
//! clean input allocates nothing.

mod decode;
mod normalize;
mod triggers;

use std::borrow::Cow;

pub use triggers::Triggers;

/// A transformation CRS 4 uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transformation {
    /// `base64Decode`.
    Base64Decode,
    /// `cmdLine`: undoes shell obfuscation (quotes, carets, backslashes, spacing).
    CmdLine,
    /// `compressWhitespace`.
    CompressWhitespace,
    /// `cssDecode`.
    CssDecode,
    /// `escapeSeqDecode`: ANSI C escapes.
    EscapeSeqDecode,
    /// `hexEncode`.
    HexEncode,
    /// `htmlEntityDecode`.
    HtmlEntityDecode,
    /// `jsDecode`.
    JsDecode,
    /// `length`: the byte length, in decimal.
    Length,
    /// `lowercase`.
    Lowercase,
    /// `normalizePath`.
    NormalizePath,
    /// `normalizePathWin`: backslashes to slashes, then `normalizePath`.
    NormalizePathWin,
    /// `removeCommentsChar`.
    RemoveCommentsChar,
    /// `removeNulls`.
    RemoveNulls,
    /// `removeWhitespace`.
    RemoveWhitespace,
    /// `replaceComments`.
    ReplaceComments,
    /// `sha1`: the raw SHA-1 digest.
    Sha1,
    /// `urlDecodeUni`.
    UrlDecodeUni,
    /// `utf8toUnicode`: multi-byte UTF-8 sequences as `%uHHHH`.
    Utf8ToUnicode,
}

impl Transformation {
    /// The transformation called `name`; `None` for `none` (which resets the list) and for
    /// names the engine does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "base64Decode" => Self::Base64Decode,
            "cmdLine" => Self::CmdLine,
            "compressWhitespace" => Self::CompressWhitespace,
            "cssDecode" => Self::CssDecode,
            "escapeSeqDecode" => Self::EscapeSeqDecode,
            "hexEncode" => Self::HexEncode,
            "htmlEntityDecode" => Self::HtmlEntityDecode,
            "jsDecode" => Self::JsDecode,
            "length" => Self::Length,
            "lowercase" => Self::Lowercase,
            "normalizePath" => Self::NormalizePath,
            "normalizePathWin" => Self::NormalizePathWin,
            "removeCommentsChar" => Self::RemoveCommentsChar,
            "removeNulls" => Self::RemoveNulls,
            "removeWhitespace" => Self::RemoveWhitespace,
            "replaceComments" => Self::ReplaceComments,
            "sha1" => Self::Sha1,
            "urlDecodeUni" => Self::UrlDecodeUni,
            "utf8toUnicode" => Self::Utf8ToUnicode,
            _ => return None,
        })
    }

    /// Applies the transformation.
    pub fn apply<'a>(self, input: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Self::Base64Decode => decode::base64(input),
            Self::CmdLine => normalize::cmd_line(input),
            Self::CompressWhitespace => normalize::compress_whitespace(input),
            Self::CssDecode => decode::css(input),
            Self::EscapeSeqDecode => decode::escape_seq(input),
            Self::HexEncode => Cow::Owned(hex_encode(input)),
            Self::HtmlEntityDecode => decode::html_entities(input),
            Self::JsDecode => decode::js(input),
            Self::Length => Cow::Owned(input.len().to_string().into_bytes()),
            Self::Lowercase => lowercase(input),
            Self::NormalizePath => normalize::path(input, false),
            Self::NormalizePathWin => normalize::path(input, true),
            Self::RemoveCommentsChar => normalize::remove_comment_chars(input),
            Self::RemoveNulls => remove_nulls(input),
            Self::RemoveWhitespace => normalize::remove_whitespace(input),
            Self::ReplaceComments => normalize::replace_comments(input),
            Self::Sha1 => Cow::Owned(sha1(input)),
            Self::UrlDecodeUni => decode::url_uni(input),
            Self::Utf8ToUnicode => decode::utf8_to_unicode(input),
        }
    }
}

/// Applies `list` in order. A transformation that changes nothing costs no copy (`Borrowed`
/// always means "unchanged").
pub fn apply_all<'a>(list: &[Transformation], input: &'a [u8]) -> Cow<'a, [u8]> {
    match list {
        [] => Cow::Borrowed(input),
        [one] => one.apply(input),
        _ => apply_triggered(list, input, Triggers::of(input)),
    }
}

/// [`apply_all`] for a value whose [`Triggers`] are known: steps it cannot wake are skipped.
pub fn apply_triggered<'a>(
    list: &[Transformation],
    input: &'a [u8],
    triggers: Triggers,
) -> Cow<'a, [u8]> {
    let mut value = Cow::Borrowed(input);
    let mut triggers = triggers;
    for t in list {
        if !triggers.wake(*t) {
            continue;
        }
        let next = match &value {
            Cow::Borrowed(b) => Some(t.apply(b)),
            Cow::Owned(v) => match t.apply(v) {
                Cow::Owned(n) => Some(Cow::Owned(n)),
                Cow::Borrowed(_) => None,
            },
        };
        if let Some(n) = next {
            if matches!(n, Cow::Owned(_)) {
                triggers = Triggers::of(&n);
            }
            value = n;
        }
    }
    value
}

fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(input.to_ascii_lowercase())
    } else {
        Cow::Borrowed(input)
    }
}

fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if input.contains(&0) {
        Cow::Owned(input.iter().copied().filter(|b| *b != 0).collect())
    } else {
        Cow::Borrowed(input)
    }
}

fn hex_encode(input: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    input
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .collect()
}

fn sha1(input: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, input)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, input: &[u8]) -> Vec<u8> {
        Transformation::parse(name)
            .unwrap()
            .apply(input)
            .into_owned()
    }

    #[test]
    fn every_crs_transformation_is_known() {
        for name in crate::seclang::vocabulary::TRANSFORMATIONS {
            assert!(
                *name == "none" || Transformation::parse(name).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn simple_transformations() {
        assert_eq!(t("lowercase", b"SeLeCt"), b"select");
        assert_eq!(t("removeNulls", b"a\0b\0"), b"ab");
        assert_eq!(t("hexEncode", b"\x01a"), b"0161");
        assert_eq!(t("length", b"hello"), b"5");
        assert_eq!(
            hex_encode(&t("sha1", b"abc")),
            b"a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let chain = [Transformation::UrlDecodeUni, Transformation::Lowercase];
        assert_eq!(apply_all(&chain, b"%53ELECT").as_ref(), b"select");
        assert!(matches!(apply_all(&chain, b"plain"), Cow::Borrowed(_)));
    }
}
