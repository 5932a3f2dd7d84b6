//! Which bytes can make a transformation change a value. A value's [`Triggers`] (one table
//! lookup per byte) says which kinds of byte it holds; a transformation none of whose trigger
//! bytes occur leaves the value as it is and is skipped without scanning it. CRS applies
//! chains of three to seven transformations to every argument and header; on clean values
//! almost every step is such a no-op.

use super::Transformation;

/// `A`-`Z`.
const UPPER: u16 = 1;
/// `%` and `+` (URL escapes).
const URL: u16 = 1 << 1;
/// `&` (HTML entities).
const AMP: u16 = 1 << 2;
/// `\` (JS, CSS, C escapes; Windows paths; shell).
const BACKSLASH: u16 = 1 << 3;
/// Bytes 0x80 and above (UTF-8).
const HIGH: u16 = 1 << 4;
/// NUL.
const NUL: u16 = 1 << 5;
/// Whitespace as ModSecurity counts it (`isspace` and 0xA0).
const SPACE: u16 = 1 << 6;
/// `/`.
const SLASH: u16 = 1 << 7;
/// `.`.
const DOT: u16 = 1 << 8;
/// `*`, `-`, `#`: every comment marker holds one.
const COMMENT: u16 = 1 << 9;
/// `"`, `'`, `^`, `,`, `;`: what `cmdLine` removes or turns into spaces.
const SHELL: u16 = 1 << 10;
/// Set in every value's triggers, so that transformations that always change a value
/// (`base64Decode`, `length`, ...) always run.
const ALWAYS: u16 = 1 << 15;

static BYTE_TRIGGERS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'A'..=b'Z' => UPPER,
            b'%' | b'+' => URL,
            b'&' => AMP,
            b'\\' => BACKSLASH,
            0 => NUL,
            b' ' | b'\t' | b'\n' | b'\r' | 11 | 12 => SPACE,
            0xA0 => SPACE | HIGH,
            b'/' => SLASH,
            b'.' => DOT,
            b'*' | b'-' | b'#' => COMMENT,
            b'"' | b'\'' | b'^' | b',' | b';' => SHELL,
            0x80..=0xFF => HIGH,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// The kinds of byte a value holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triggers(u16);

impl Triggers {
    /// The triggers of `value`.
    pub fn of(value: &[u8]) -> Self {
        Self(
            value
                .iter()
                .fold(ALWAYS, |t, b| t | BYTE_TRIGGERS[usize::from(*b)]),
        )
    }

    /// Whether `t` could change a value with these triggers.
    pub fn wake(self, t: Transformation) -> bool {
        self.0 & t.triggers() != 0
    }
}

impl Transformation {
    /// The kinds of byte without which this transformation returns its input unchanged.
    fn triggers(self) -> u16 {
        match self {
            Self::Base64Decode | Self::HexEncode | Self::Length | Self::Sha1 => ALWAYS,
            // Removes `\ " ' ^`, spaces runs and `,` `;` become one space, spaces go before `/`
            // and `(` (only after a space), and it lowercases.
            Self::CmdLine => UPPER | BACKSLASH | SHELL | SPACE,
            Self::CompressWhitespace | Self::RemoveWhitespace => SPACE,
            Self::CssDecode | Self::EscapeSeqDecode | Self::JsDecode => BACKSLASH,
            Self::HtmlEntityDecode => AMP,
            Self::Lowercase => UPPER,
            Self::NormalizePath => SLASH | DOT,
            Self::NormalizePathWin => SLASH | DOT | BACKSLASH,
            Self::RemoveCommentsChar | Self::ReplaceComments => COMMENT,
            Self::RemoveNulls => NUL,
            Self::UrlDecodeUni => URL,
            Self::Utf8ToUnicode => HIGH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Transformation; 19] = [
        Transformation::Base64Decode,
        Transformation::CmdLine,
        Transformation::CompressWhitespace,
        Transformation::CssDecode,
        Transformation::EscapeSeqDecode,
        Transformation::HexEncode,
        Transformation::HtmlEntityDecode,
        Transformation::JsDecode,
        Transformation::Length,
        Transformation::Lowercase,
        Transformation::NormalizePath,
        Transformation::NormalizePathWin,
        Transformation::RemoveCommentsChar,
        Transformation::RemoveNulls,
        Transformation::RemoveWhitespace,
        Transformation::ReplaceComments,
        Transformation::Sha1,
        Transformation::UrlDecodeUni,
        Transformation::Utf8ToUnicode,
    ];

    /// The defining property, on 20,000 random values per transformation made only of bytes
    /// that do not wake it (so the property is tested where it claims something): the
    /// transformation returns them unchanged.
    #[test]
    fn a_transformation_not_woken_changes_nothing() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        for t in ALL {
            let quiet: Vec<u8> = (0..=255u8)
                .filter(|b| BYTE_TRIGGERS[usize::from(*b)] & t.triggers() == 0)
                .collect();
            if t.triggers() == ALWAYS {
                assert!(Triggers::of(b"").wake(t), "{t:?} always runs");
                continue;
            }
            assert!(
                quiet.len() >= 128,
                "{t:?}: only {} quiet bytes",
                quiet.len()
            );
            for _ in 0..20_000 {
                let len = (next() % 24) as usize;
                let value: Vec<u8> = (0..len)
                    .map(|_| quiet[(next() % quiet.len() as u64) as usize])
                    .collect();
                assert!(!Triggers::of(&value).wake(t));
                assert_eq!(
                    t.apply(&value).as_ref(),
                    value.as_slice(),
                    "{t:?} {value:?}"
                );
            }
        }
    }

    #[test]
    fn values_wake_what_they_need() {
        let t = Triggers::of(b"1%27 OR 'A'='A'");
        assert!(t.wake(Transformation::UrlDecodeUni));
        assert!(t.wake(Transformation::Lowercase));
        assert!(t.wake(Transformation::CmdLine));
        assert!(!t.wake(Transformation::HtmlEntityDecode));
        assert!(!t.wake(Transformation::JsDecode));
        assert!(Triggers::of(b"caf\xc3\xa9").wake(Transformation::Utf8ToUnicode));
    }
}
