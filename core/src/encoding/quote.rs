//! Characters and strings quoted in error messages: `'z'` and `"srs1nope"`, written for ASCII
//! exactly as Rust's `{:?}` writes them.
//!
//! `{:?}` on `char` and `str` escapes by Unicode's printable and grapheme-extend tables, which
//! (with the string-slicing panic path `str`'s `Debug` brings along) cost the npm package's
//! proof entry about 4 KB of its gzipped WebAssembly. These escape every non-ASCII character as
//! its code point, `\u{e9}`, the form `{:?}` uses for the characters it does not print.
//!
//! ```
//! use soru_core::encoding::quote::{QuotedChar, QuotedStr};
//! assert_eq!(QuotedChar('z').to_string(), format!("{:?}", 'z'));
//! assert_eq!(QuotedStr("a\"b'\n").to_string(), format!("{:?}", "a\"b'\n"));
//! assert_eq!(QuotedChar('é').to_string(), r"'\u{e9}'");
//! ```

use core::fmt::{self, Write};

/// A character between single quotes (see the [module](self) documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedChar(pub char);

/// A string between double quotes (see the [module](self) documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedStr<'a>(pub &'a str);

impl fmt::Display for QuotedChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quoted(f, '\'', &mut core::iter::once(self.0))
    }
}

impl fmt::Display for QuotedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quoted(f, '"', &mut self.0.chars())
    }
}

fn quoted(
    f: &mut fmt::Formatter<'_>,
    quote: char,
    chars: &mut dyn Iterator<Item = char>,
) -> fmt::Result {
    f.write_char(quote)?;
    for c in chars {
        match c {
            '\0' => f.write_str("\\0")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\n' => f.write_str("\\n")?,
            '\\' => f.write_str("\\\\")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            ' '..='~' => f.write_char(c)?,
            c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
        }
    }
    f.write_char(quote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::{String, ToString};

    #[test]
    fn ascii_is_quoted_as_debug_quotes_it() {
        for b in 0..=0x7fu8 {
            let c = char::from(b);
            assert_eq!(QuotedChar(c).to_string(), format!("{c:?}"), "{b:#x}");
            let s: String = ['a', c, '\'', c, '"'].iter().collect();
            assert_eq!(QuotedStr(&s).to_string(), format!("{s:?}"), "{b:#x}");
        }
    }

    #[test]
    fn other_characters_are_code_points() {
        // As `{:?}` writes the characters it does not print.
        for c in ['\u{80}', '\u{200b}', '\u{feff}', '\u{10ffff}'] {
            assert_eq!(QuotedChar(c).to_string(), format!("{c:?}"));
        }
        assert_eq!(QuotedStr("é€𝄞").to_string(), r#""\u{e9}\u{20ac}\u{1d11e}""#);
    }
}
