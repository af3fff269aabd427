//! Tokens of a filter expression (Python: `filterexpr.tokenize` and `_TOKEN_RE`).
//!
//! Positions are counted in characters, as Python indexes a `str`, so the columns of errors
//! agree whatever the text holds. The character classes are Python's (see `chars`).

use super::chars::{DIGIT, SPACE, WORD};
use super::FilterError;
use crate::export::escape_untrusted;

/// One lexical token: its text and where it starts (0-based, in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub text: &'a str,
    pub pos: usize,
}

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let code = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < code {
                std::cmp::Ordering::Less
            } else if lo > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python's `\s` and `str.isspace` (which counts \x1c-\x1f, unlike Rust's `is_whitespace`).
pub(super) fn is_space(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ');
    }
    in_table(&SPACE, c)
}

/// A character of a word token: Python's `[\w.:/\[\]\-,]`.
fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric()
            || matches!(c, '_' | '.' | ':' | '/' | '[' | ']' | '-' | ',');
    }
    in_table(&WORD, c)
}

/// The value of a decimal digit as Python's `\d` and `float()` read it (any script's 0-9).
pub(super) fn digit_value(c: char) -> Option<u8> {
    let code = c as u32;
    let i = DIGIT.partition_point(|&(_, hi)| hi < code);
    match DIGIT.get(i) {
        Some(&(lo, _)) if lo <= code => u8::try_from((code - lo) % 10).ok(),
        _ => None,
    }
}

/// `str.rstrip()`: the text without its trailing (Python) whitespace.
pub(super) fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// The two-character operators, tried before the one-character ones (`&&` is not `&` `&`).
const OPS2: [&str; 6] = ["&&", "||", ">=", "<=", "==", "!="];

fn is_op1(c: char) -> bool {
    matches!(c, '(' | ')' | '!' | '<' | '>' | '=')
}

/// Split an expression into tokens; an unexpected character is an error at its column.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let text = rstrip(text);
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut pos = 0usize;
    while let Some((at, c)) = chars.next() {
        let start = pos;
        pos += 1;
        if is_space(c) {
            continue;
        }
        let rest = &text[at..];
        if let Some(op) = OPS2.iter().find(|op| rest.starts_with(**op)) {
            chars.next();
            pos += 1;
            tokens.push(Token {
                text: op,
                pos: start,
            });
        } else if is_op1(c) {
            tokens.push(Token {
                text: &rest[..1],
                pos: start,
            });
        } else if is_word(c) {
            let mut end = at + c.len_utf8();
            while let Some(&(next_at, next)) = chars.peek() {
                if !is_word(next) {
                    break;
                }
                chars.next();
                pos += 1;
                end = next_at + next.len_utf8();
            }
            tokens.push(Token {
                text: &text[at..end],
                pos: start,
            });
        } else {
            let one = &rest[..c.len_utf8()];
            return Err(FilterError::new(
                format!("unexpected character {}", show(one)),
                start,
            ));
        }
    }
    Ok(tokens)
}

/// `_show`: untrusted text quoted for an error message, controls and bidi escaped.
pub(super) fn show(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'\'');
    escape_untrusted(text, &mut out);
    out.push(b'\'');
    String::from_utf8_lossy(&out).into_owned()
}

/// `_is_number`: ASCII digits only (`str.isdigit` alone would take '¹', which `int()` refuses).
pub(super) fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}
