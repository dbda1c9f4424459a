//! The `--since` bound of an audit query: which texts are accepted, and their normal form.

/// Why a `--since` text was refused; says which forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid since date `{value}`: {reason}; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)"
)]
pub struct InvalidSince {
    pub value: String,
    pub reason: String,
}

/// Accepts `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`, and returns the latter form,
/// which compares as text against the stored times. Other forms are refused rather than guessed
/// at: a local time or an offset would silently shift the window.
pub fn validate_since(s: &str) -> Result<String, InvalidSince> {
    let refuse = |reason: String| InvalidSince {
        value: s.to_string(),
        reason,
    };
    let b = s.as_bytes();
    let shape = match b.len() {
        10 => "dddd-dd-dd",
        20 => "dddd-dd-ddTdd:dd:ddZ",
        _ => "",
    };
    let fits = !shape.is_empty()
        && shape.bytes().zip(b).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            _ => want == *got,
        });
    if !fits {
        return Err(refuse("not in either form".to_string()));
    }
    let (year, month, day) = (number(&b[0..4]), number(&b[5..7]), number(&b[8..10]));
    if !(1..=12).contains(&month) {
        return Err(refuse(format!("month {month:02} is not 01-12")));
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return Err(refuse(format!("{year:04}-{month:02} has no day {day:02}")));
    }
    if b.len() == 10 {
        return Ok(format!("{s}T00:00:00Z"));
    }
    let (hour, minute, second) = (number(&b[11..13]), number(&b[14..16]), number(&b[17..19]));
    if hour > 23 {
        return Err(refuse(format!("hour {hour:02} is not 00-23")));
    }
    if minute > 59 {
        return Err(refuse(format!("minute {minute:02} is not 00-59")));
    }
    // SQLite's clock never writes a leap second, so 60 could only miss.
    if second > 59 {
        return Err(refuse(format!("second {second:02} is not 00-59")));
    }
    Ok(s.to_string())
}

/// The value of ASCII digits already checked by the caller.
fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, d| n * 10 + u32::from(d.saturating_sub(b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_date_or_a_utc_time() {
        assert_eq!(
            validate_since("2026-03-31").unwrap(),
            "2026-03-31T00:00:00Z"
        );
        assert_eq!(
            validate_since("2024-02-29").unwrap(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            validate_since("2000-02-29").unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            validate_since("2026-03-31T23:59:59Z").unwrap(),
            "2026-03-31T23:59:59Z"
        );
    }

    #[test]
    fn refuses_other_forms_and_impossible_dates() {
        for bad in [
            "",
            "yesterday",
            "2026-3-31",
            "2026/03/31",
            "2026-03-31T10:00:00",
            "2026-03-31 10:00:00Z",
            "2026-03-31T10:00:00+02:00",
            "2026-03-31t10:00:00z",
            "2026-03-31T10:00Z",
            "２０２６-03-31",
        ] {
            let e = validate_since(bad).unwrap_err();
            assert_eq!(e.reason, "not in either form", "{bad}");
        }
        let cases = [
            ("2026-13-01", "month 13 is not 01-12"),
            ("2026-00-01", "month 00 is not 01-12"),
            ("2023-02-29", "2023-02 has no day 29"),
            ("1900-02-29", "1900-02 has no day 29"),
            ("2026-04-31", "2026-04 has no day 31"),
            ("2026-04-00", "2026-04 has no day 00"),
            ("2026-04-01T24:00:00Z", "hour 24 is not 00-23"),
            ("2026-04-01T23:60:00Z", "minute 60 is not 00-59"),
            ("2026-04-01T23:59:60Z", "second 60 is not 00-59"),
        ];
        for (bad, reason) in cases {
            assert_eq!(validate_since(bad).unwrap_err().reason, reason, "{bad}");
        }
    }

    #[test]
    fn the_error_names_the_value_and_both_forms() {
        assert_eq!(
            validate_since("2026-13-01").unwrap_err().to_string(),
            "invalid since date `2026-13-01`: month 13 is not 01-12; \
             expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)"
        );
    }
}
