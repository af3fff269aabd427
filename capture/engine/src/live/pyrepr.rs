//! Python's `repr()` of a string, for messages that name the user's input as today's
//! Python messages do (`bad capture filter 'port porrt': ...`).

/// `repr(text)` as CPython writes it: single quotes unless the text holds a single quote and no
/// double quote; backslash, the quote, `\n`, `\r`, `\t` escaped; other control characters as
/// `\xNN`.
pub fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn quotes_and_escapes_like_python() {
        assert_eq!(py_repr("port porrt"), "'port porrt'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\ty\\\u{1}"), "'x\\ty\\\\\\x01'");
    }
}
