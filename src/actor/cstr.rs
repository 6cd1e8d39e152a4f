//! Messages as C programs see them: text up to the first NUL.

/// The text a C program would print with `%s`: bytes up to the first NUL, decoded lossily.
pub(crate) fn text(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

/// A message with its NUL, the way the lab's programs put it on the wire (`strlen + 1`).
pub(crate) fn with_nul(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    bytes
}

/// How a payload reads in a transcript: the C string, quoted and escaped, then what follows it.
///
/// `"# A=000\0" (8 bytes)` is a lab message; `"# A=000" (7 bytes, no NUL)` one sent with
/// `strlen`; `"# A=000\0" + 248 bytes after the NUL (256 bytes)` one sent with `sizeof`.
pub(crate) fn display(payload: &[u8]) -> String {
    let nul = payload.iter().position(|&b| b == 0);
    let end = nul.unwrap_or(payload.len());
    let mut out = String::from("\"");
    out.push_str(&escape(&payload[..end]));
    let total = payload.len();
    let plural = if total == 1 { "" } else { "s" };
    match nul {
        Some(at) => {
            out.push_str("\\0\"");
            let after = total - at - 1;
            if after > 0 {
                out.push_str(&format!(" + {after} bytes after the NUL"));
            }
            out.push_str(&format!(" ({total} byte{plural})"));
        }
        None => out.push_str(&format!("\" ({total} byte{plural}, no NUL)")),
    }
    out
}

/// Printable text as is; quotes, backslashes, control bytes and invalid UTF-8 escaped.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stops_at_nul() {
        assert_eq!(text(b"# A=000\0garbage"), "# A=000");
        assert_eq!(text(b"no nul"), "no nul");
        assert_eq!(text(b""), "");
    }

    #[test]
    fn display_shows_framing() {
        assert_eq!(display(&with_nul("# A=000")), "\"# A=000\\0\" (8 bytes)");
        assert_eq!(display(b"# A=000"), "\"# A=000\" (7 bytes, no NUL)");
        let mut buffer = with_nul("# A=000");
        buffer.resize(256, 0x41);
        assert_eq!(
            display(&buffer),
            "\"# A=000\\0\" + 248 bytes after the NUL (256 bytes)"
        );
        assert_eq!(display(b""), "\"\" (0 bytes, no NUL)");
    }

    #[test]
    fn escapes_what_a_terminal_should_not_see() {
        assert_eq!(
            escape(b"a\"b\\c\n\x01\xff\xc3\xa9"),
            "a\\\"b\\\\c\\n\\x01\\xffé"
        );
    }
}
