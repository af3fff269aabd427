//! Recursive descent over the tokens (Python: `filterexpr._Parser`): `or` binds loosest, then
//! `and`, then `not`; a term reads its own arguments (see `terms`).

use super::lex::{is_number, show, Token};
use super::terms::{self, Cmp};
use super::{FilterError, Node, Term};

/// Nested `(` and `not` at most. Python has no such bound but runs out of stack (a
/// `RecursionError`, not a `FilterError`) after some 330 parentheses; this keeps the Rust
/// parser's recursion, and the matcher's, well within any thread's stack.
pub(super) const MAX_DEPTH: usize = 500;

/// The parser's position in the token list, and where the text ends (for "at the end" errors).
pub(super) struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    i: usize,
    end: usize,
    depth: usize,
}

/// The comparators a numeric term takes (`=` and `==` are one).
fn comparator(text: &str) -> Option<Cmp> {
    Some(match text {
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        "=" | "==" => Cmp::Eq,
        "!=" => Cmp::Ne,
        _ => return None,
    })
}

fn is_word(tok: &Token<'_>, a: &str, b: &str) -> bool {
    // Lower-casing for a comparison with ASCII words needs no Final_Sigma context: a sigma
    // never becomes ASCII either way.
    let lower = || tok.text.chars().flat_map(char::to_lowercase);
    lower().eq(a.chars()) || lower().eq(b.chars())
}

impl<'a> Parser<'a> {
    /// A parser over `tokens` of a text `end` characters long (trailing blanks included).
    pub(super) fn new(tokens: Vec<Token<'a>>, end: usize) -> Parser<'a> {
        Parser {
            tokens,
            i: 0,
            end,
            depth: 0,
        }
    }

    /// The token after the last one parsed, if any is left.
    pub(super) fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.i).copied()
    }

    /// The next token, or an error saying `what` was expected at the end.
    pub(super) fn take(&mut self, what: &str) -> Result<Token<'a>, FilterError> {
        let tok = self.peek().ok_or_else(|| {
            FilterError::new(
                format!("expected {what} at the end of the filter"),
                self.end,
            )
        })?;
        self.i += 1;
        Ok(tok)
    }

    /// Whether the next token is a comparator (exactly as written: `port > 80`).
    pub(super) fn at_comparator(&self) -> bool {
        self.peek().is_some_and(|t| comparator(t.text).is_some())
    }

    /// The comparator after a numeric term's keyword.
    pub(super) fn comparator(&mut self, keyword: Token<'_>) -> Result<Cmp, FilterError> {
        let after = format!(
            "a comparison (> >= < <= == !=) after {}",
            show(keyword.text)
        );
        let tok = self.take(&after)?;
        comparator(tok.text).ok_or_else(|| {
            FilterError::new(format!("expected {after}, got {}", show(tok.text)), tok.pos)
        })
    }

    /// The whole expression; an error if tokens are left over.
    pub(super) fn parse(mut self) -> Result<Node, FilterError> {
        let node = self.parse_or()?;
        if let Some(tok) = self.peek() {
            let msg = format!("expected 'and' or 'or' before {}", show(tok.text));
            return Err(FilterError::new(msg, tok.pos));
        }
        Ok(node)
    }

    fn parse_or(&mut self) -> Result<Node, FilterError> {
        let mut any = vec![self.parse_and()?];
        while self.peek().is_some_and(|t| is_word(&t, "or", "||")) {
            self.i += 1;
            any.push(self.parse_and()?);
        }
        Ok(if any.len() == 1 {
            any.swap_remove(0)
        } else {
            Node::Or(any.into())
        })
    }

    fn parse_and(&mut self) -> Result<Node, FilterError> {
        let mut all = vec![self.parse_unary()?];
        while self.peek().is_some_and(|t| is_word(&t, "and", "&&")) {
            self.i += 1;
            all.push(self.parse_unary()?);
        }
        Ok(if all.len() == 1 {
            all.swap_remove(0)
        } else {
            Node::And(all.into())
        })
    }

    fn parse_unary(&mut self) -> Result<Node, FilterError> {
        let tok = self.take("a filter term")?;
        if is_word(&tok, "not", "!") {
            self.deeper(tok)?;
            let inner = self.parse_unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        if tok.text == "(" {
            self.deeper(tok)?;
            let inner = self.parse_or()?;
            self.depth -= 1;
            let what = format!("')' to match the '(' at column {}", tok.pos + 1);
            let close = self.take(&what)?;
            if close.text != ")" {
                let msg = format!("expected ')' or an operator, got {}", show(close.text));
                return Err(FilterError::new(msg, close.pos));
            }
            return Ok(inner);
        }
        if is_number(tok.text) {
            return Ok(Node::Term(Term::Port(terms::port(tok)?)));
        }
        terms::build(self, tok).map(Node::Term)
    }

    fn deeper(&mut self, tok: Token<'_>) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let msg = format!("more than {MAX_DEPTH} nested '(' and 'not'");
            return Err(FilterError::new(msg, tok.pos));
        }
        Ok(())
    }
}
