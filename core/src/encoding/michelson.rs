//! Michelson data text to Micheline, as the octez wasm debugger reads transfer payloads.
//!
//! The lexical rules follow octez's `Micheline_parser`: integers of any size (`-` allowed),
//! strings with the escapes `\" \\ \n \t \r \b`, bytes `0x..` (an even number of hex digits),
//! primitives with optional annotations, parentheses around applications used as arguments,
//! `{ a ; b }` sequences, `#` line comments and nestable `/* */` comments, and only space and
//! newline as whitespace. The tree is kept literal: `Pair 1 2 3` stays a three-argument `Pair`
//! (octez does not comb data when it serializes a transfer). Primitive names must belong to the
//! Michelson table; macros (`CADR`, `DIIP`, ...) are not expanded.
//!
//! ```
//! use soru_core::encoding::michelson::parse;
//! let e = parse(r#"Pair (Some 0x01) { Elt "a" 1 ; Elt "b" -2 }"#).unwrap();
//! assert_eq!(e.to_string(), r#"Pair (Some 0x01) { Elt "a" 1 ; Elt "b" -2 }"#);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use thiserror::Error;

use super::binary::Zarith;
use super::micheline::{Expr, Primitive, MAX_ANNOT_LENGTH, MAX_DEPTH};

/// What is wrong in a piece of Michelson text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// A character that starts no token (tabs and carriage returns included, as in octez).
    #[error("unexpected character {0:?}")]
    UnexpectedCharacter(char),
    /// A string without its closing quote on the same line.
    #[error("unterminated string")]
    UnterminatedString,
    /// A backslash followed by an unknown escape.
    #[error("undefined escape sequence \\{0}")]
    UndefinedEscape(char),
    /// A number immediately followed by a letter.
    #[error("missing separator after a number")]
    MissingBreakAfterNumber,
    /// A `-` not followed by a digit.
    #[error("unterminated integer")]
    UnterminatedInteger,
    /// `0x` followed by an odd number of hex digits.
    #[error("invalid hex bytes (odd number of digits)")]
    InvalidHexBytes,
    /// A `/*` comment that never ends.
    #[error("unterminated comment")]
    UnterminatedComment,
    /// An annotation longer than 255 bytes.
    #[error("annotation longer than 255 bytes")]
    AnnotationTooLong,
    /// A token where another was expected.
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        /// What was found.
        found: &'static str,
        /// What would have been valid.
        expected: &'static str,
    },
    /// A `(` or `{` that is never closed.
    #[error("unclosed {0}")]
    Unclosed(&'static str),
    /// A name outside the Michelson primitive table.
    #[error("unknown primitive {0:?} (macros are not expanded)")]
    UnknownPrimitive(String),
    /// No expression at all.
    #[error("empty expression")]
    Empty,
    /// Nesting deeper than the Micheline codec accepts.
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
}

/// A parse error at a 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{line}:{column}: {kind}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Int(Zarith),
    Str(String),
    Bytes(Vec<u8>),
    Ident(String),
    Annot(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Semi,
}

impl Tok {
    fn describe(&self) -> &'static str {
        match self {
            Tok::Int(_) => "integer constant",
            Tok::Str(_) => "string constant",
            Tok::Bytes(_) => "bytes constant",
            Tok::Ident(_) => "identifier",
            Tok::Annot(_) => "annotation",
            Tok::LParen => "'('",
            Tok::RParen => "')'",
            Tok::LBrace => "'{'",
            Tok::RBrace => "'}'",
            Tok::Semi => "';'",
        }
    }
}

struct Lexer<'a> {
    chars: core::iter::Peekable<core::str::Chars<'a>>,
    pos: Pos,
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn err(&self, at: Pos, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: at.line,
            column: at.column,
            kind,
        }
    }

    fn tokens(mut self) -> Result<Vec<(Tok, Pos)>, ParseError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                ' ' | '\n' => {
                    self.bump();
                }
                ';' | '(' | ')' | '{' | '}' => {
                    self.bump();
                    let t = match c {
                        ';' => Tok::Semi,
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        '{' => Tok::LBrace,
                        _ => Tok::RBrace,
                    };
                    out.push((t, start));
                }
                'a'..='z' | 'A'..='Z' | '_' => {
                    let s = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                    out.push((Tok::Ident(s), start));
                }
                '@' | ':' | '$' | '&' | '%' | '!' | '?' => {
                    let mut s = String::new();
                    s.push(c);
                    self.bump();
                    s.push_str(&self.take_while(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '%' | '@')
                    }));
                    if s.len() > MAX_ANNOT_LENGTH {
                        return Err(self.err(start, ParseErrorKind::AnnotationTooLong));
                    }
                    out.push((Tok::Annot(s), start));
                }
                '-' | '0'..='9' => out.push((self.number(start)?, start)),
                '"' => out.push((self.string(start)?, start)),
                '#' => {
                    self.take_while(|c| c != '\n');
                }
                '/' => {
                    self.bump();
                    if self.peek() != Some('*') {
                        return Err(self.err(start, ParseErrorKind::UnexpectedCharacter('/')));
                    }
                    self.bump();
                    self.comment(start)?;
                }
                other => return Err(self.err(start, ParseErrorKind::UnexpectedCharacter(other))),
            }
        }
        Ok(out)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    fn number(&mut self, start: Pos) -> Result<Tok, ParseError> {
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.bump();
            if !matches!(self.peek(), Some('0'..='9')) {
                return Err(self.err(start, ParseErrorKind::UnterminatedInteger));
            }
        }
        let first = self.bump().unwrap_or('0');
        text.push(first);
        if first == '0' && self.peek() == Some('x') && text.len() == 1 {
            self.bump();
            let digits = self.take_while(|c| c.is_ascii_hexdigit());
            if matches!(self.peek(), Some('g'..='z' | 'G'..='Z')) {
                return Err(self.err(self.pos, ParseErrorKind::MissingBreakAfterNumber));
            }
            let bytes = hex::decode(&digits)
                .map_err(|_| self.err(start, ParseErrorKind::InvalidHexBytes))?;
            return Ok(Tok::Bytes(bytes));
        }
        text.push_str(&self.take_while(|c| c.is_ascii_digit()));
        if matches!(self.peek(), Some('a'..='z' | 'A'..='Z' | '_')) {
            return Err(self.err(self.pos, ParseErrorKind::MissingBreakAfterNumber));
        }
        // Only digits (and a leading '-') were collected, so this cannot fail.
        let z = Zarith::from_decimal(&text)
            .map_err(|_| self.err(start, ParseErrorKind::UnterminatedInteger))?;
        Ok(Tok::Int(z))
    }

    fn string(&mut self, start: Pos) -> Result<Tok, ParseError> {
        self.bump(); // opening quote
        let mut s = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None | Some('\n' | '\r') => {
                    return Err(self.err(start, ParseErrorKind::UnterminatedString))
                }
                Some('"') => return Ok(Tok::Str(s)),
                Some('\\') => match self.bump() {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('b') => s.push('\u{8}'),
                    Some(other) => return Err(self.err(at, ParseErrorKind::UndefinedEscape(other))),
                    None => return Err(self.err(start, ParseErrorKind::UnterminatedString)),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn comment(&mut self, start: Pos) -> Result<(), ParseError> {
        let mut level = 0usize;
        loop {
            match self.bump() {
                None => return Err(self.err(start, ParseErrorKind::UnterminatedComment)),
                Some('*') if self.peek() == Some('/') => {
                    self.bump();
                    if level == 0 {
                        return Ok(());
                    }
                    level -= 1;
                }
                Some('/') if self.peek() == Some('*') => {
                    self.bump();
                    level += 1;
                }
                Some(_) => {}
            }
        }
    }
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
    end: Pos,
    /// Where each node starts, in prefix order (= octez's canonical locations).
    locs: Vec<Pos>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.i).map(|(_, p)| *p).unwrap_or(self.end)
    }

    fn err(&self, at: Pos, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: at.line,
            column: at.column,
            kind,
        }
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        let found = self.peek().map(Tok::describe).unwrap_or("end of input");
        self.err(self.pos(), ParseErrorKind::Unexpected { found, expected })
    }

    fn next(&mut self) -> Option<(Tok, Pos)> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn check_depth(&self, depth: usize) -> Result<(), ParseError> {
        if depth >= MAX_DEPTH {
            Err(self.err(self.pos(), ParseErrorKind::TooDeep(MAX_DEPTH)))
        } else {
            Ok(())
        }
    }

    fn primitive(&self, name: String, at: Pos) -> Result<Primitive, ParseError> {
        Primitive::from_name(&name).ok_or(self.err(at, ParseErrorKind::UnknownPrimitive(name)))
    }

    fn annots(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(Tok::Annot(a)) = self.peek() {
            v.push(a.clone());
            self.i += 1;
        }
        v
    }

    /// An application whose arguments run until a token in `stop` (not consumed).
    fn application(
        &mut self,
        name: String,
        at: Pos,
        depth: usize,
        stop: fn(Option<&Tok>) -> bool,
    ) -> Result<Expr, ParseError> {
        let prim = self.primitive(name, at)?;
        self.locs.push(at);
        let annots = self.annots();
        let mut args = Vec::new();
        while !stop(self.peek()) {
            args.push(self.argument(depth + 1)?);
        }
        Ok(Expr::Prim { prim, args, annots })
    }

    /// An argument of an application: an atom, a bare primitive, `( ... )` or `{ ... }`.
    fn argument(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.check_depth(depth)?;
        let at = self.pos();
        if matches!(
            self.peek(),
            Some(Tok::Int(_) | Tok::Str(_) | Tok::Bytes(_) | Tok::Ident(_))
        ) {
            self.locs.push(at);
        }
        match self.next() {
            Some((Tok::Int(z), _)) => Ok(Expr::Int(z)),
            Some((Tok::Str(s), _)) => Ok(Expr::String(s)),
            Some((Tok::Bytes(b), _)) => Ok(Expr::Bytes(b)),
            Some((Tok::Ident(name), _)) => Ok(Expr::prim(self.primitive(name, at)?, Vec::new())),
            Some((Tok::LParen, _)) => self.wrapped(at, depth),
            Some((Tok::LBrace, _)) => self.sequence(at, depth),
            _ => {
                self.i -= 1;
                Err(self.unexpected("an argument"))
            }
        }
    }

    /// After `(`: `Ident annots args )`.
    fn wrapped(&mut self, open: Pos, depth: usize) -> Result<Expr, ParseError> {
        let at = self.pos();
        let Some((Tok::Ident(name), _)) = self.next() else {
            self.i -= 1;
            return Err(self.unexpected("a primitive after '('"));
        };
        let e = self.application(name, at, depth, |t| {
            matches!(t, None | Some(Tok::RParen | Tok::RBrace | Tok::Semi))
        })?;
        match self.next() {
            Some((Tok::RParen, _)) => Ok(e),
            _ => Err(self.err(open, ParseErrorKind::Unclosed("parenthesis"))),
        }
    }

    /// After `{`: items separated by `;`, then `}`.
    fn sequence(&mut self, open: Pos, depth: usize) -> Result<Expr, ParseError> {
        self.locs.push(open);
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err(open, ParseErrorKind::Unclosed("curly brace"))),
                Some(Tok::RBrace) => {
                    self.i += 1;
                    return Ok(Expr::Seq(items));
                }
                _ => {}
            }
            items.push(self.item(depth + 1)?);
            match self.peek() {
                Some(Tok::Semi) => {
                    self.i += 1;
                    if self.peek() == Some(&Tok::Semi) {
                        return Err(self.unexpected("an expression or '}'"));
                    }
                }
                Some(Tok::RBrace) => {}
                None => return Err(self.err(open, ParseErrorKind::Unclosed("curly brace"))),
                Some(_) => return Err(self.unexpected("';' or '}'")),
            }
        }
    }

    /// A sequence item or the whole expression: an atom, `{ ... }`, or an application without
    /// parentheses.
    fn item(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.check_depth(depth)?;
        let at = self.pos();
        if matches!(self.peek(), Some(Tok::Int(_) | Tok::Str(_) | Tok::Bytes(_))) {
            self.locs.push(at);
        }
        match self.next() {
            Some((Tok::Int(z), _)) => Ok(Expr::Int(z)),
            Some((Tok::Str(s), _)) => Ok(Expr::String(s)),
            Some((Tok::Bytes(b), _)) => Ok(Expr::Bytes(b)),
            Some((Tok::LBrace, _)) => self.sequence(at, depth),
            Some((Tok::LParen, _)) => self.wrapped(at, depth),
            Some((Tok::Ident(name), _)) => self.application(name, at, depth, |t| {
                matches!(t, None | Some(Tok::RBrace | Tok::Semi | Tok::RParen))
            }),
            None => Err(self.err(at, ParseErrorKind::Empty)),
            Some(_) => {
                self.i -= 1;
                Err(self.unexpected("an expression"))
            }
        }
    }
}

/// Parses one Michelson data expression (e.g. a transfer payload) into Micheline.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let mut p = parser(source)?;
    let e = p.item(0)?;
    if p.peek().is_some() {
        return Err(p.unexpected("end of input"));
    }
    Ok(e)
}

/// A line and column (1-based; columns count characters) in Michelson text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Parses a script file (`.tz`) as `octez-client` does: `;`-separated top-level expressions
/// (`parameter ..; storage ..; code ..`) become one sequence (a file that is already one
/// `{ .. }` sequence is that sequence). Also returns where every node starts, indexed by its
/// canonical location (its prefix-order index in the expression, as octez numbers nodes in
/// errors), so an error at a Micheline location can be shown at a line and column.
pub fn parse_script(source: &str) -> Result<(Expr, Vec<Location>), ParseError> {
    let mut p = parser(source)?;
    let start = p.pos();
    let mut items = Vec::new();
    p.locs.push(start);
    while p.peek().is_some() {
        items.push(p.item(1)?);
        match p.peek() {
            Some(Tok::Semi) => p.i += 1,
            None => {}
            Some(_) => return Err(p.unexpected("';' or end of input")),
        }
    }
    let e = match items.len() {
        0 => return Err(p.err(start, ParseErrorKind::Empty)),
        1 if matches!(items[0], Expr::Seq(_)) => {
            p.locs.remove(0);
            items.remove(0)
        }
        _ => Expr::Seq(items),
    };
    let locs = p
        .locs
        .iter()
        .map(|p| Location {
            line: p.line,
            column: p.column,
        })
        .collect();
    Ok((e, locs))
}

fn parser(source: &str) -> Result<Parser, ParseError> {
    let lexer = Lexer {
        chars: source.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
    };
    let end = {
        let mut l = Lexer {
            chars: source.chars().peekable(),
            pos: Pos { line: 1, column: 1 },
        };
        while l.bump().is_some() {}
        l.pos
    };
    let toks = lexer.tokens()?;
    Ok(Parser {
        toks,
        i: 0,
        end,
        locs: Vec::new(),
    })
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn err(s: &str) -> (usize, usize, ParseErrorKind) {
        let e = parse(s).unwrap_err();
        (e.line, e.column, e.kind)
    }

    #[test]
    fn atoms() {
        assert_eq!(parse("0").unwrap(), Expr::int(0));
        assert_eq!(parse("-42").unwrap(), Expr::int(-42));
        assert_eq!(
            parse("123456789012345678901234567890123456789012").unwrap(),
            Expr::Int(Zarith::from_decimal("123456789012345678901234567890123456789012").unwrap())
        );
        assert_eq!(
            parse(r#""a\"b\\c\n""#).unwrap(),
            Expr::String("a\"b\\c\n".to_string())
        );
        assert_eq!(parse("0x").unwrap(), Expr::Bytes(vec![]));
        assert_eq!(parse("0xABcd").unwrap(), Expr::Bytes(vec![0xab, 0xcd]));
        assert_eq!(parse("Unit").unwrap(), Expr::prim(Primitive::UNIT, vec![]));
        assert_eq!(parse("True").unwrap(), Expr::prim(Primitive::TRUE, vec![]));
    }

    #[test]
    fn structures_stay_literal() {
        let e = parse("Pair 1 2 3").unwrap();
        assert_eq!(
            e,
            Expr::prim(
                Primitive::PAIR,
                vec![Expr::int(1), Expr::int(2), Expr::int(3)]
            )
        );
        let e = parse("(Pair (Left Unit) (Right (Some None)))").unwrap();
        assert_eq!(e.to_string(), "Pair (Left Unit) (Right (Some None))");
        let e = parse("{ Elt 1 \"a\" ; Elt 2 \"b\" ; }").unwrap();
        assert_eq!(e.to_string(), r#"{ Elt 1 "a" ; Elt 2 "b" }"#);
        assert_eq!(parse("{}").unwrap(), Expr::Seq(vec![]));
        assert_eq!(
            parse("{ {} ; { 1 } }").unwrap(),
            Expr::Seq(vec![Expr::Seq(vec![]), Expr::Seq(vec![Expr::int(1)])])
        );
        let e = parse("Pair %a (Unit :u) # comment\n /* c /* nested */ */ 1").unwrap();
        assert_eq!(e.to_string(), "Pair %a (Unit :u) 1");
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(err(""), (1, 1, ParseErrorKind::Empty));
        assert_eq!(
            err("Pair 1\n  Foo"),
            (2, 3, ParseErrorKind::UnknownPrimitive("Foo".to_string()))
        );
        assert_eq!(err("\"abc"), (1, 1, ParseErrorKind::UnterminatedString));
        assert_eq!(
            err("\"a\\qb\""),
            (1, 3, ParseErrorKind::UndefinedEscape('q'))
        );
        assert_eq!(err("0x123"), (1, 1, ParseErrorKind::InvalidHexBytes));
        assert_eq!(err("12a"), (1, 3, ParseErrorKind::MissingBreakAfterNumber));
        assert_eq!(
            err("Pair\t1"),
            (1, 5, ParseErrorKind::UnexpectedCharacter('\t'))
        );
        assert_eq!(
            err("(Pair 1"),
            (1, 1, ParseErrorKind::Unclosed("parenthesis"))
        );
        assert_eq!(
            err("{ 1 ; 2"),
            (1, 1, ParseErrorKind::Unclosed("curly brace"))
        );
        assert_eq!(
            err("{ 1 2 }"),
            (
                1,
                5,
                ParseErrorKind::Unexpected {
                    found: "integer constant",
                    expected: "';' or '}'"
                }
            )
        );
        assert_eq!(
            err("1 2"),
            (
                1,
                3,
                ParseErrorKind::Unexpected {
                    found: "integer constant",
                    expected: "end of input"
                }
            )
        );
        assert_eq!(err("- 1"), (1, 1, ParseErrorKind::UnterminatedInteger));
        assert_eq!(err("/* x"), (1, 1, ParseErrorKind::UnterminatedComment));
        assert!(matches!(
            err("Pair (1)").2,
            ParseErrorKind::Unexpected { .. }
        ));
        assert!(matches!(
            err("{ 1 ;; 2 }").2,
            ParseErrorKind::Unexpected { .. }
        ));
    }

    #[test]
    fn scripts_and_locations() {
        let src = "parameter unit;\nstorage (pair nat int);\ncode { CDR ; NIL operation ; PAIR }";
        let (e, locs) = parse_script(src).unwrap();
        assert_eq!(
            e.to_string(),
            "{ parameter unit ; storage (pair nat int) ; code { CDR ; NIL operation ; PAIR } }"
        );
        // Prefix order: 0 the sequence, 1 parameter, 2 unit, 3 storage, 4 pair, 5 nat, 6 int,
        // 7 code, 8 its sequence, 9 CDR, 10 NIL, 11 operation, 12 PAIR.
        assert_eq!(locs.len(), 13);
        let at = |i: usize| (locs[i].line, locs[i].column);
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 11));
        assert_eq!(at(4), (2, 10));
        assert_eq!(at(6), (2, 19));
        assert_eq!(at(8), (3, 6));
        assert_eq!(at(11), (3, 18));
        assert_eq!(at(12), (3, 30));
        let (e, locs) = parse_script("{ parameter unit ; storage 1 ; code {} }").unwrap();
        assert!(matches!(e, Expr::Seq(ref items) if items.len() == 3));
        assert_eq!((locs.len(), locs[0].column, locs[4].column), (7, 1, 28));
        assert_eq!(parse_script(" ").unwrap_err().kind, ParseErrorKind::Empty);
        assert!(parse_script("parameter unit ; ;").is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "{".repeat(MAX_DEPTH + 5) + &"}".repeat(MAX_DEPTH + 5);
        assert_eq!(
            parse(&deep).unwrap_err().kind,
            ParseErrorKind::TooDeep(MAX_DEPTH)
        );
    }
}
