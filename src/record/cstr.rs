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

/// How much of a message's C string a transcript shows: all of any real message, and a
/// bound on the transcript's size when a program sends 64 KB datagrams by the thousand.
const SHOWN: usize = 512;

/// How a payload reads in a transcript: the C string, quoted and escaped, then what follows it.
///
/// `"# A=000\0" (8 bytes)` is a lab message; `"# A=000" (7 bytes, no NUL)` one sent with
/// `strlen`; `"# A=000\0" + 248 bytes after the NUL (256 bytes)` one sent with `sizeof`.
/// A C string longer than [`SHOWN`] bytes is cut there and marked `"…"…`; where its NUL
/// is then goes after it: `"zzz…"… \0 at byte 600 (601 bytes)`.
pub(crate) fn display(payload: &[u8]) -> String {
    let nul = payload.iter().position(|&b| b == 0);
    let end = nul.unwrap_or(payload.len());
    let cut = if end > SHOWN {
        // Not inside a UTF-8 character: back off over continuation bytes (at most 3).
        (SHOWN - 3..=SHOWN)
            .rev()
            .find(|&i| payload[i] & 0xc0 != 0x80)
            .unwrap_or(SHOWN)
    } else {
        end
    };
    let mut out = String::from("\"");
    out.push_str(&escape(&payload[..cut]));
    let total = payload.len();
    let plural = if total == 1 { "" } else { "s" };
    let shortened = cut < end;
    match nul {
        Some(at) => {
            if shortened {
                out.push_str(&format!("\"… \\0 at byte {at}"));
            } else {
                out.push_str("\\0\"");
            }
            let after = total - at - 1;
            if after > 0 {
                out.push_str(&format!(" + {after} bytes after the NUL"));
            }
            out.push_str(&format!(" ({total} byte{plural})"));
        }
        None => {
            out.push_str(if shortened { "\"…" } else { "\"" });
            out.push_str(&format!(" ({total} byte{plural}, no NUL)"));
        }
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
    fn a_long_c_string_is_cut_and_says_so() {
        let long = vec![b'z'; 65_507];
        let shown = display(&long);
        assert_eq!(
            shown,
            format!("\"{}\"… (65507 bytes, no NUL)", "z".repeat(SHOWN))
        );
        let mut with_nul = vec![b'y'; 600];
        with_nul.extend_from_slice(b"\0rest");
        assert_eq!(
            display(&with_nul),
            format!(
                "\"{}\"… \\0 at byte 600 + 4 bytes after the NUL (605 bytes)",
                "y".repeat(SHOWN)
            )
        );
        // Never inside a character: `é` is two bytes.
        let accents = "é".repeat(400);
        let shown = display(accents.as_bytes());
        assert!(
            shown.starts_with(&format!("\"{}\"…", "é".repeat(SHOWN / 2))),
            "{shown}"
        );
    }

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
