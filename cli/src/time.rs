//! Times and durations as people read and write them: instants in UTC (ISO 8601, to the
//! millisecond), durations in the largest unit that keeps them short, and the times a filter
//! takes (`2026-11-29`, `2026-11-29T16:52:10Z`, or `7d` for seven days ago). Written here
//! rather than taken from a date crate: the tool needs these few functions only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch as `2026-11-29T16:52:10.123Z`.
pub fn instant(ms: u64) -> String {
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

/// A duration in milliseconds as `850ms`, `1.52s`, `3m02s`, `2h05m` or `3d04h`.
pub fn duration(ms: u64) -> String {
    let seconds = ms / 1000;
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}.{:02}s", seconds, ms % 1000 / 10),
        60_000..3_600_000 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", seconds / 3600, seconds / 60 % 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds / 3600 % 24),
    }
}

/// The date of a day counted from 1970-01-01 in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A time as a filter takes it: a UTC date (`2026-11-29`, its midnight), a UTC date and time
/// (`2026-11-29T16:52`, `2026-11-29T16:52:10Z`, `2026-11-29 16:52:10.500`), or how long ago
/// (`90s`, `15m`, `2h`, `7d`).
pub fn parse_when(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let wrong = || {
        format!(
            "`{text}` is not a time: write a UTC date and time (2026-11-29, 2026-11-29T16:52:10Z) or how long ago (90s, 15m, 2h, 7d)"
        )
    };
    if let Some(ago) = parse_ago(text) {
        return SystemTime::now().checked_sub(ago).ok_or_else(wrong);
    }
    let ms = parse_utc(text).ok_or_else(wrong)?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

/// `90s`, `15m`, `2h`, `7d` as a duration.
fn parse_ago(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let count: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count.checked_mul(seconds)?))
}

/// A UTC date, with a time of day or not, as milliseconds since the Unix epoch.
fn parse_utc(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut date = date.splitn(3, '-').map(|part| part.parse::<u64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return None; // 2026-02-30 and the like
    }
    let mut ms = days * 86_400_000;
    if let Some(time) = time {
        let (time, fraction) = match time.split_once('.') {
            Some((time, fraction)) => (time, Some(fraction)),
            None => (time, None),
        };
        let mut parts = time.split(':').map(|part| part.parse::<u64>().ok());
        let hours = parts.next()??;
        let minutes = parts.next()??;
        let seconds = parts.next().unwrap_or(Some(0))?;
        if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
            return None;
        }
        ms += (hours * 3600 + minutes * 60 + seconds) * 1000;
        if let Some(fraction) = fraction {
            if fraction.is_empty() || fraction.len() > 3 {
                return None;
            }
            let digits: u64 = fraction.parse().ok()?;
            ms += digits * 10u64.pow(3 - fraction.len() as u32);
        }
    }
    Some(ms)
}

/// Days from 1970-01-01 to a date on or after it (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 }; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_utc_dates() {
        assert_eq!(instant(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29, a leap day of a century leap year, and the last millisecond of 2024.
        assert_eq!(instant(951_782_400_000 + 1), "2000-02-29T00:00:00.001Z");
        assert_eq!(instant(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn durations_use_the_largest_unit_that_keeps_them_short() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(999), "999ms");
        assert_eq!(duration(1_523), "1.52s");
        assert_eq!(duration(182_000), "3m02s");
        assert_eq!(duration(7_500_000), "2h05m");
        assert_eq!(duration(273_600_000), "3d04h");
    }

    #[test]
    fn times_are_read_as_utc_dates_or_how_long_ago() {
        let ms = |text: &str| {
            let time = parse_when(text).unwrap();
            u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
        };
        assert_eq!(ms("1970-01-01"), 0);
        assert_eq!(ms("2000-02-29"), 951_782_400_000);
        assert_eq!(ms("2024-12-31T23:59:59.999Z"), 1_735_689_599_999);
        assert_eq!(ms("2024-12-31 23:59"), 1_735_689_540_000);
        assert_eq!(ms("2024-12-31T23:59:59.5"), 1_735_689_599_500);
        for wrong in [
            "2026-02-30",
            "2026-13-01",
            "yesterday",
            "7w",
            "2026-01-01T24:00",
            "",
        ] {
            assert!(parse_when(wrong).is_err(), "{wrong}");
        }
        assert_eq!(parse_ago("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ago("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ago("7d"), Some(Duration::from_secs(604_800)));
        assert!(parse_when("7d").unwrap() < SystemTime::now());
    }
}
