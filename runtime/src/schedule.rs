//! Schedules: when a workflow registered with
//! [`RuntimeBuilder::schedule`](crate::RuntimeBuilder::schedule) starts a run on its own, as
//! a cron expression in a time zone or as a fixed interval, and what happens to ticks missed
//! while no runtime ran ([`MissedTicks`]).
//!
//! This file is the user's side and the tick arithmetic (every tick is a time in milliseconds
//! since the Unix epoch, the same in every process, so that it can key the tick's start in the
//! store); the task that waits for ticks and starts their runs is `runtime/scheduler.rs`.
//!
//! Cron expressions are parsed and stepped by [croner](https://docs.rs/croner): the five
//! fields of Vixie cron (`minute hour day-of-month month day-of-week`, with `*/n`, ranges,
//! lists, month and day names), an optional leading seconds field, and `L`, `W` and `#`. It
//! was chosen over the `cron` crate because that one requires a seconds field (so
//! `"0 */6 * * *"` does not parse as every cron user writes it) and has no rule for
//! daylight-saving changes, where croner follows the OCI rules: a time that does not exist
//! that day (02:30 when clocks jump from 02:00 to 03:00) fires at the first instant after the
//! gap, and a time that occurs twice (when clocks go back) fires once, at the first.

use std::time::Duration;

use chrono::TimeZone as _;

use crate::error::Error;

/// An IANA time zone (`chrono_tz::Europe::Berlin`, or parsed from `"Europe/Berlin"`), for
/// [`Schedule::time_zone`]. Re-exported from chrono-tz.
pub use chrono_tz::Tz;

/// Longest schedule name, in bytes: a tick's start is keyed by the name and the tick's time
/// within the store's key limits.
pub const MAX_SCHEDULE_NAME_BYTES: usize = 200;

/// What a runtime does at start with the ticks of a schedule that came while no runtime ran
/// it (the process was down, or stopped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTicks {
    /// One run for all the missed ticks together, started at once, keyed by the latest of
    /// them (so a nightly job missed three nights runs once, not three times). The default:
    /// work a schedule stands for is not silently dropped by an outage.
    #[default]
    RunOnce,
    /// No run for missed ticks: the schedule goes on with the next tick to come.
    Skip,
}

/// When a scheduled workflow starts a run: see
/// [`RuntimeBuilder::schedule`](crate::RuntimeBuilder::schedule).
#[derive(Clone, Debug)]
pub struct Schedule {
    pub(crate) when: When,
    pub(crate) missed: MissedTicks,
    pub(crate) name: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum When {
    Cron {
        expression: String,
        cron: Box<croner::Cron>,
        zone: Tz,
    },
    Every(Duration),
}

impl Schedule {
    /// Ticks at the times a cron expression names, in UTC unless
    /// [`time_zone`](Self::time_zone) says otherwise: `"0 */6 * * *"` (every six hours, on the
    /// hour), `"30 9 * * MON-FRI"` (9:30 on weekdays), `"0 0 L * *"` (midnight on the last
    /// day of each month); an optional sixth, leading field gives seconds.
    /// [`Error::InvalidCron`] names what does not parse.
    pub fn cron(expression: &str) -> Result<Schedule, Error> {
        let invalid = |reason: String| Error::InvalidCron {
            expression: expression.to_owned(),
            reason,
        };
        if expression.trim().is_empty() {
            return Err(invalid("the expression is empty".to_owned()));
        }
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        let cron = parser
            .parse(expression)
            .map_err(|e| invalid(e.to_string()))?;
        // A pattern no date satisfies (`0 0 30 2 *`: February 30th) parses; it would never
        // tick, which is a mistake worth telling at once rather than a schedule that waits
        // forever.
        let probe = chrono::Utc
            .timestamp_opt(0, 0)
            .single()
            .expect("the Unix epoch is a valid time");
        if let Err(e) = cron.find_next_occurrence(&probe, false) {
            return Err(invalid(format!("it names no time that exists ({e})")));
        }
        Ok(Schedule {
            when: When::Cron {
                expression: expression.to_owned(),
                cron: Box::new(cron),
                zone: Tz::UTC,
            },
            missed: MissedTicks::default(),
            name: None,
        })
    }

    /// Ticks every `interval`, at whole multiples of it since the Unix epoch (UTC): every
    /// hour on the hour, every 10 minutes at :00, :10, :20, ..., so that every process and
    /// every restart agrees on the tick times. An interval under a millisecond makes
    /// [`RuntimeBuilder::start`](crate::RuntimeBuilder::start) fail with
    /// [`Error::InvalidArgument`].
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            when: When::Every(interval),
            missed: MissedTicks::default(),
            name: None,
        }
    }

    /// The time zone a cron expression's fields are read in (default UTC): `"0 9 * * *"` in
    /// `Europe::Berlin` ticks at 9:00 Berlin time, summer and winter. No effect on
    /// [`every`](Self::every).
    pub fn time_zone(mut self, zone: Tz) -> Schedule {
        if let When::Cron { zone: z, .. } = &mut self.when {
            *z = zone;
        }
        self
    }

    /// What to do with ticks missed while no runtime ran (default
    /// [`MissedTicks::RunOnce`]).
    pub fn missed_ticks(mut self, policy: MissedTicks) -> Schedule {
        self.missed = policy;
        self
    }

    /// Names the schedule (default: its workflow's name). The store keeps the last tick
    /// handled under this name, so a workflow with two schedules needs a name for at least
    /// one, and renaming a schedule starts it afresh (from the next tick).
    pub fn name(mut self, name: impl Into<String>) -> Schedule {
        self.name = Some(name.into());
        self
    }

    /// The first tick after `after_ms`, if there is one.
    pub(crate) fn next_after(&self, after_ms: u64) -> Option<u64> {
        match &self.when {
            When::Every(interval) => {
                let step = interval_ms(*interval)?;
                (after_ms / step).checked_add(1)?.checked_mul(step)
            }
            When::Cron { cron, zone, .. } => {
                let after = zone.from_utc_datetime(&utc(after_ms)?.naive_utc());
                let next = cron.find_next_occurrence(&after, false).ok()?;
                u64::try_from(next.timestamp_millis()).ok()
            }
        }
    }

    /// The latest tick after `after_ms` and at or before `now_ms`, if any.
    pub(crate) fn latest_in(&self, after_ms: u64, now_ms: u64) -> Option<u64> {
        let latest = match &self.when {
            When::Every(interval) => {
                let step = interval_ms(*interval)?;
                now_ms / step * step
            }
            When::Cron { cron, zone, .. } => {
                let now = zone.from_utc_datetime(&utc(now_ms)?.naive_utc());
                let previous = cron.find_previous_occurrence(&now, true).ok()?;
                u64::try_from(previous.timestamp_millis()).ok()?
            }
        };
        (latest > after_ms && latest <= now_ms).then_some(latest)
    }

    /// [`Error::InvalidArgument`] for an interval under a millisecond or a bad name.
    pub(crate) fn check(&self, name: &str) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidArgument {
            call: "RuntimeBuilder::schedule",
            reason,
        };
        if let When::Every(interval) = self.when
            && interval_ms(interval).is_none()
        {
            return Err(invalid(format!(
                "schedule `{name}`: the interval is {interval:?}; it must be at least 1 ms"
            )));
        }
        if name.is_empty() || name.len() > MAX_SCHEDULE_NAME_BYTES {
            return Err(invalid(format!(
                "the schedule name `{name}` is {} bytes long; it must be 1 to {MAX_SCHEDULE_NAME_BYTES} bytes",
                name.len()
            )));
        }
        Ok(())
    }

    /// What the schedule is, for logs: the cron expression and zone, or the interval.
    pub(crate) fn describe(&self) -> String {
        match &self.when {
            When::Cron {
                expression, zone, ..
            } => format!("cron `{expression}` in {zone}"),
            When::Every(interval) => format!("every {interval:?}"),
        }
    }
}

fn interval_ms(interval: Duration) -> Option<u64> {
    u64::try_from(interval.as_millis())
        .ok()
        .filter(|&ms| ms > 0)
}

fn utc(ms: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::Utc
        .timestamp_millis_opt(i64::try_from(ms).ok()?)
        .single()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds of a UTC date and time.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u64 {
        let t = chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        u64::try_from(t.timestamp_millis()).unwrap()
    }

    #[test]
    fn cron_ticks_follow_the_expression() {
        let every_six = Schedule::cron("0 */6 * * *").unwrap();
        let start = at(2026, 1, 1, 1, 30);
        assert_eq!(every_six.next_after(start), Some(at(2026, 1, 1, 6, 0)));
        assert_eq!(
            every_six.next_after(at(2026, 1, 1, 6, 0)),
            Some(at(2026, 1, 1, 12, 0))
        );
        assert_eq!(
            every_six.latest_in(start, at(2026, 1, 1, 19, 0)),
            Some(at(2026, 1, 1, 18, 0))
        );
        assert_eq!(every_six.latest_in(start, at(2026, 1, 1, 5, 59)), None);
        let seconds = Schedule::cron("30 * * * * *").unwrap();
        assert_eq!(seconds.next_after(start), Some(start + 30_000));
    }

    #[test]
    fn intervals_are_aligned_to_the_epoch() {
        let ten = Schedule::every(Duration::from_secs(600));
        assert_eq!(
            ten.next_after(at(2026, 1, 1, 1, 3)),
            Some(at(2026, 1, 1, 1, 10))
        );
        assert_eq!(
            ten.latest_in(at(2026, 1, 1, 1, 3), at(2026, 1, 1, 1, 47)),
            Some(at(2026, 1, 1, 1, 40))
        );
    }

    #[test]
    fn bad_cron_expressions_are_typed_errors_naming_the_problem() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 25 * * *",
            "0 0 30 2 *",
            "every day",
        ] {
            match Schedule::cron(bad) {
                Err(Error::InvalidCron { expression, reason }) => {
                    assert_eq!(expression, bad);
                    assert!(!reason.is_empty());
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let message = Schedule::cron("61 * * * *").unwrap_err().to_string();
        assert!(message.contains("61 * * * *"), "{message}");
    }

    #[test]
    fn a_daily_time_in_a_zone_moves_in_utc_across_daylight_saving() {
        // 9:00 in Berlin is 8:00 UTC in winter and 7:00 UTC in summer; clocks go forward on
        // the night of 28 to 29 March 2026.
        let nine = Schedule::cron("0 9 * * *")
            .unwrap()
            .time_zone(chrono_tz::Europe::Berlin);
        let friday = nine.next_after(at(2026, 3, 27, 12, 0)).unwrap();
        assert_eq!(friday, at(2026, 3, 28, 8, 0));
        assert_eq!(nine.next_after(friday), Some(at(2026, 3, 29, 7, 0)));
        // 2:30 does not exist in Berlin on 29 March: it fires at the end of the gap (3:00
        // summer time, 1:00 UTC), once.
        let half_past_two = Schedule::cron("30 2 * * *")
            .unwrap()
            .time_zone(chrono_tz::Europe::Berlin);
        let gap_day = half_past_two.next_after(at(2026, 3, 28, 12, 0)).unwrap();
        assert_eq!(gap_day, at(2026, 3, 29, 1, 0));
        assert_eq!(
            half_past_two.next_after(gap_day),
            Some(at(2026, 3, 30, 0, 30))
        );
    }
}
