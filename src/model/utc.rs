//! UTC times in the one form pgroster stores, `YYYY-MM-DDTHH:MM:SSZ`: a role's `valid_until` and
//! the audit log's `--since` bound. Fixed width, so the audit log compares them as text.
//!
//! The written form is checked here, because each caller accepts fewer forms than a date crate
//! would (no offsets, no basic `20270228`, no fractions). Whether the day exists is jiff's answer,
//! not ours: a hand-written check let `2027-02-31` reach the server (issue 8).

use jiff::civil::DateTime;
use std::str::FromStr;

/// Why a date and time of day were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UtcTimeError {
    /// Not the fixed-width digits; the caller's message lists the forms it accepts.
    #[error("not in an accepted form")]
    Form,
    /// Well written, but the calendar has no such time (`2027-02-31`, hour 24); jiff's reason.
    #[error("no such date or time: {0}")]
    Impossible(String),
}

/// `date` written `YYYY-MM-DD` and `time` written `HH:MM:SS`, read as UTC and returned as
/// `YYYY-MM-DDTHH:MM:SSZ`. Hour 24 and second 60 are refused although PostgreSQL takes them: it
/// rolls them into the next day or minute, so the stored time would never match the written one.
pub fn canonical_utc(date: &str, time: &str) -> Result<String, UtcTimeError> {
    if !fits(date, "dddd-dd-dd") || !fits(time, "dd:dd:dd") {
        return Err(UtcTimeError::Form);
    }
    // The shapes hold ASCII digits at these places, so slicing is on char boundaries.
    DateTime::new(
        field(&date[0..4])?,
        field(&date[5..7])?,
        field(&date[8..10])?,
        field(&time[0..2])?,
        field(&time[3..5])?,
        field(&time[6..8])?,
        0,
    )
    .map_err(|e| UtcTimeError::Impossible(e.to_string()))?;
    Ok(format!("{date}T{time}Z"))
}

/// Whether `text` has `shape`'s length, an ASCII digit at each `d` and the same byte elsewhere.
fn fits(text: &str, shape: &str) -> bool {
    text.len() == shape.len()
        && shape
            .bytes()
            .zip(text.bytes())
            .all(|(want, got)| match want {
                b'd' => got.is_ascii_digit(),
                _ => want == got,
            })
}

fn field<T: FromStr>(digits: &str) -> Result<T, UtcTimeError> {
    digits.parse().map_err(|_| UtcTimeError::Form)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_real_date_and_time_is_written_in_the_canonical_form() {
        assert_eq!(
            canonical_utc("2027-03-31", "12:30:00").unwrap(),
            "2027-03-31T12:30:00Z"
        );
        assert_eq!(
            canonical_utc("2028-02-29", "23:59:59").unwrap(),
            "2028-02-29T23:59:59Z"
        );
        assert_eq!(
            canonical_utc("2000-02-29", "00:00:00").unwrap(),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn days_the_calendar_does_not_have_are_refused_with_jiffs_reason() {
        for (date, time, says) in [
            ("2027-02-31", "00:00:00", "`2027-02`"),
            ("2027-04-31", "00:00:00", "`2027-04`"),
            ("2027-02-29", "00:00:00", "1..=28"),
            ("1900-02-29", "00:00:00", "1..=28"),
            ("2027-04-00", "00:00:00", "'day'"),
            ("2027-13-01", "00:00:00", "'month'"),
            ("2027-00-01", "00:00:00", "'month'"),
            ("2027-04-01", "24:00:00", "'hour'"),
            ("2027-04-01", "23:60:00", "'minute'"),
            ("2027-04-01", "23:59:60", "'second'"),
        ] {
            match canonical_utc(date, time) {
                Err(UtcTimeError::Impossible(reason)) => {
                    assert!(reason.contains(says), "{date} {time}: {reason}")
                }
                other => panic!("{date} {time}: {other:?}"),
            }
        }
    }

    #[test]
    fn anything_but_fixed_width_ascii_digits_is_not_the_form() {
        for (date, time) in [
            ("2027-3-31", "00:00:00"),
            ("20270331", "00:00:00"),
            ("+2027-03-31", "00:00:00"),
            ("2027/03/31", "00:00:00"),
            ("２０２７-03-31", "00:00:00"),
            ("2027-03-31", "10:00"),
            ("2027-03-31", "10:00:00.5"),
            ("2027-03-31", " 1:00:00"),
        ] {
            assert_eq!(
                canonical_utc(date, time),
                Err(UtcTimeError::Form),
                "{date} {time}"
            );
        }
    }
}
