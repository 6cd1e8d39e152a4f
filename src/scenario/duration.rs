//! Human-readable durations as written in scenario files: `2s`, `500ms`, `1.5s`, `1m`.

use std::time::Duration;

/// Parses a duration such as `2s`, `250ms`, `1.5s`, `2min` or `1h`.
///
/// The error is a sentence fragment that reads well after "invalid duration: ".
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write it like `2s` or `500ms`".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; durations are zero or more"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    if number.is_empty() {
        return Err(format!(
            "`{text}` has no number; write it like `2s` or `500ms`"
        ));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let seconds_per_unit = match unit {
        "ms" => 0.001,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => {
            return Err(format!(
                "`{text}` has no unit; write `{text}s` or `{text}ms`"
            ));
        }
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use `ms`, `s`, `min` or `h`"
            ));
        }
    };
    let seconds = value * seconds_per_unit;
    // A day is far beyond any lab scenario; refusing it keeps arithmetic on
    // durations free of overflow.
    if !seconds.is_finite() || seconds > 86_400.0 {
        return Err(format!("`{text}` is longer than a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats a duration the way scenario files write it, for messages and transcripts (the
/// record's reasons use it too, hence its home there).
pub(crate) use crate::record::duration_text as display;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse(" 3 s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert!(parse("-1s").unwrap_err().contains("negative"));
        assert!(parse("2").unwrap_err().contains("no unit"));
        assert!(parse("2 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("s").unwrap_err().contains("no number"));
        assert!(parse("1.2.3s").unwrap_err().contains("not a number"));
        assert!(
            parse("99999999h")
                .unwrap_err()
                .contains("longer than a day")
        );
        assert!(parse("").is_err());
    }

    #[test]
    fn displays_round_trip() {
        for text in ["2s", "500ms", "1.5s", "0s"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
