//! Text escapes shared by the writers: JSON strings as `json.dumps` writes them (ensure_ascii),
//! and `capture.safetext`'s `escape_untrusted` and `csv_cell`.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `s` as a JSON string with its quotes, as Python's `json` writes it with `ensure_ascii`:
/// `\"` `\\` `\n` `\r` `\t` `\b` `\f`, every other character outside space..`~` as `\uXXXX`
/// (lower-case hex; above U+FFFF as a surrogate pair).
pub fn json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    // Most strings (uids, addresses, states, history) need no escape: one copy. Every byte is
    // looked at, with no early exit, which the compiler turns into a few wide comparisons.
    let plain = |b: u8| (b' '..=b'~').contains(&b) & (b != b'"') & (b != b'\\');
    if s.bytes().fold(true, |all, b| all & plain(b)) {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u4(out, *unit);
                }
            }
        }
    }
    out.push(b'"');
}

fn push_u4(out: &mut Vec<u8>, unit: u16) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// `safetext._UNSAFE`: C0 and C1 controls, DEL, bidi controls and overrides, zero-width and
/// line/paragraph separators, the BOM.
fn unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}')
}

/// `safetext.escape_untrusted`: each unsafe character as `\xNN` (up to U+00FF) or `\uNNNN`.
pub fn escape_untrusted(s: &str, out: &mut Vec<u8>) {
    let mut utf8 = [0u8; 4];
    for c in s.chars() {
        if !unsafe_char(c) {
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        let code = c as u32;
        if code <= 0xff {
            out.extend_from_slice(b"\\x");
        } else {
            out.extend_from_slice(b"\\u");
            out.push(HEX[((code >> 12) & 0xf) as usize]);
            out.push(HEX[((code >> 8) & 0xf) as usize]);
        }
        out.push(HEX[((code >> 4) & 0xf) as usize]);
        out.push(HEX[(code & 0xf) as usize]);
    }
}

/// `safetext.csv_cell`: escaped, and a leading `= + - @` (or tab/CR) made inert with a `'`, so
/// a spreadsheet does not evaluate the cell.
pub fn csv_cell(s: &str, out: &mut Vec<u8>) {
    let start = out.len();
    escape_untrusted(s, out);
    if matches!(
        out.get(start),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) {
        out.insert(start, b'\'');
    }
}
