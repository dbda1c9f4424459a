//! The `--since` bound of an audit query: which texts are accepted, and their normal form.

use crate::model::utc::{canonical_utc, UtcTimeError};

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
    // A time must end in `Z`; without one the whole text must be a date, so a zoneless time fails.
    let (date, time) = match s.strip_suffix('Z').map(|t| t.split_once('T')) {
        None => (s, "00:00:00"),
        Some(Some(date_time)) => date_time,
        Some(None) => return Err(refuse("not in either form".to_string())),
    };
    canonical_utc(date, time).map_err(|e| {
        refuse(match e {
            UtcTimeError::Form => "not in either form".to_string(),
            UtcTimeError::Impossible(_) => e.to_string(),
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_date_or_a_utc_time() {
        for (since, canonical) in [
            ("2026-03-31", "2026-03-31T00:00:00Z"),
            ("2024-02-29", "2024-02-29T00:00:00Z"),
            ("2028-02-29", "2028-02-29T00:00:00Z"),
            ("2000-02-29", "2000-02-29T00:00:00Z"),
            ("2026-03-31T23:59:59Z", "2026-03-31T23:59:59Z"),
            ("2028-02-29T12:00:00Z", "2028-02-29T12:00:00Z"),
        ] {
            assert_eq!(validate_since(since).unwrap(), canonical);
        }
    }

    #[test]
    fn refuses_offsets_local_times_and_other_forms() {
        for bad in [
            "",
            "yesterday",
            "2026-3-31",
            "2026/03/31",
            "20260331",
            "2026-03-31Z",
            "2026-03-31T10:00:00",
            "2026-03-31 10:00:00Z",
            "2026-03-31T10:00:00+02:00",
            "2026-03-31T10:00:00+02:00Z",
            "2026-03-31T10:00:00.5Z",
            "2026-03-31t10:00:00z",
            "2026-03-31T10:00Z",
            "２０２６-03-31",
        ] {
            let e = validate_since(bad).unwrap_err();
            assert_eq!(e.reason, "not in either form", "{bad}");
        }
    }

    #[test]
    fn refuses_days_and_times_the_calendar_does_not_have() {
        for (bad, says) in [
            ("2027-02-31", "`2027-02`"),
            ("2027-04-31", "`2027-04`"),
            ("2027-02-29", "1..=28"),
            ("1900-02-29", "1..=28"),
            ("2026-04-00", "'day'"),
            ("2026-13-01", "'month'"),
            ("2026-00-01", "'month'"),
            ("2027-02-31T10:00:00Z", "`2027-02`"),
            ("2026-04-01T24:00:00Z", "'hour'"),
            ("2026-04-01T23:60:00Z", "'minute'"),
            ("2026-04-01T23:59:60Z", "'second'"),
        ] {
            let reason = validate_since(bad).unwrap_err().reason;
            assert!(
                reason.starts_with("no such date or time") && reason.contains(says),
                "{bad}: {reason}"
            );
        }
    }

    #[test]
    fn the_error_names_the_value_the_day_and_both_forms() {
        let message = validate_since("2027-02-31").unwrap_err().to_string();
        assert!(
            message.starts_with("invalid since date `2027-02-31`: no such date or time: ")
                && message.contains("`2027-02`")
                && message.ends_with("; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)"),
            "{message}"
        );
    }
}
