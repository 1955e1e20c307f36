//! Times and durations as people read them: instants in UTC (ISO 8601, to the millisecond),
//! durations in the largest unit that keeps them short. Written here rather than taken from a
//! date crate: the tool needs these two functions only.

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
}
