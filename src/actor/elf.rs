//! Whether a program is a statically linked ELF executable: such a program ignores
//! `LD_PRELOAD`, so nss_wrapper cannot give it the run's hosts file.

use std::io::Read;
use std::path::Path;

/// True for an ELF executable without a program interpreter (`PT_INTERP`): statically
/// linked. Scripts, dynamically linked programs and unreadable files are not.
pub(crate) fn is_static(path: &Path) -> bool {
    let mut header = Vec::new();
    // Program headers sit near the start: 64 KiB is far more than any holds.
    let read = std::fs::File::open(path).and_then(|f| f.take(64 << 10).read_to_end(&mut header));
    read.is_ok() && interpreter(&header) == Some(false)
}

/// `Some(true)` when the ELF image in `bytes` names an interpreter, `Some(false)` when it
/// is an executable that names none, `None` when it is not an ELF executable (or is cut).
fn interpreter(bytes: &[u8]) -> Option<bool> {
    if bytes.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *bytes.get(4)? == 2;
    let little = *bytes.get(5)? == 1;
    let number = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at + len)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if little { field[len - 1 - i] } else { field[i] };
            value = value << 8 | u64::from(byte);
        }
        Some(value)
    };
    // ET_EXEC or ET_DYN (a PIE, or a static PIE); not a relocatable object or a core.
    if !matches!(number(16, 2)?, 2 | 3) {
        return None;
    }
    let (offset, entry_size, count) = if wide {
        (number(32, 8)?, number(54, 2)?, number(56, 2)?)
    } else {
        (number(28, 4)?, number(42, 2)?, number(44, 2)?)
    };
    const PT_INTERP: u64 = 3;
    for i in 0..count {
        let at = usize::try_from(offset + i * entry_size).ok()?;
        if number(at, 4)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_programs_scripts_and_garbage_are_not_static() {
        // The test binary itself is dynamically linked, as Rust builds it on Linux.
        let me = std::env::current_exe().expect("the test binary");
        assert!(!is_static(&me));
        assert!(!is_static(Path::new("/bin/sh")));
        assert_eq!(interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(interpreter(b"\x7fELF"), None);
        assert!(!is_static(Path::new("/no/such/program")));
    }
}
