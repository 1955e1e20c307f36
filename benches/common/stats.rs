//! How the benches summarise a figure's samples (repetitions, or one ratio per repetition):
//! the median and the range. Shared by `perf.rs`, `operations.rs` and `postgres.rs` (each
//! includes it with `#[path]`), so that every figure of BENCHMARKS.md is summarised alike.

// Each bench uses a part of it.
#![allow(dead_code)]

/// The median (the mean of the two middle values for an even count), the minimum and the
/// maximum of `values`, which must not be empty.
pub fn median_min_max(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[0], sorted[n - 1])
}

/// `median (min–max)` of `values`, each with `digits` decimals.
pub fn spread(values: &[f64], digits: usize) -> String {
    let (median, min, max) = median_min_max(values);
    format!("{median:.digits$} ({min:.digits$}–{max:.digits$})")
}
