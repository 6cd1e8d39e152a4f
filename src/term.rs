//! What labrun's output needs to know of a terminal, in one place: whether to colour it,
//! how wide and high it is, and text fitted to a width.
//!
//! Uses no stage: the live view, the diagrams, the grade's progress line and the command
//! line all read it.

use std::io::IsTerminal as _;

/// Whether labrun's messages on standard error are coloured: a terminal reads them, and
/// `NO_COLOR` (<https://no-color.org>) is not set.
pub(crate) fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The width and height in characters of the terminal on `fd`, or 80×24 when it does
/// not say.
pub(crate) fn size(fd: std::os::fd::RawFd) -> (usize, usize) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which is valid for the call.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &raw mut size) } == 0;
    if ok && size.ws_col > 0 && size.ws_row > 0 {
        (usize::from(size.ws_col), usize::from(size.ws_row))
    } else {
        (80, 24)
    }
}

/// `text` cut to `width` characters, with `…` when cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis_only_when_needed() {
        assert_eq!(fit("short", 80), "short");
        assert_eq!(fit("short", 5), "short");
        assert_eq!(fit("shorter", 5), "shor…");
        assert_eq!(fit("é→x", 1), "…");
        assert_eq!(fit("x", 0), "");
    }
}
