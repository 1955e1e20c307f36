//! How the tool fails: one line on standard error naming the problem, and an exit code that
//! scripts can rely on.
//!
//! | code | meaning                                                                    |
//! |------|----------------------------------------------------------------------------|
//! | 0    | done                                                                       |
//! | 1    | the operation failed: no data directory, no such run, a refused answer, a |
//! |      | watched run that failed or was cancelled                                   |
//! | 2    | the command line is wrong: an unknown command or option, a bad value      |

use std::fmt;
use std::process::ExitCode;

/// A failed operation (exit code 1), with the message shown after `error: `.
#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    /// The exit code of a failed operation.
    pub const EXIT: u8 = 1;

    /// The exit code of a wrong command line (clap's own).
    pub const USAGE_EXIT: u8 = 2;

    pub fn exit_code() -> ExitCode {
        ExitCode::from(Failure::EXIT)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every error of the library says what went wrong and names the run: it is the message.
impl From<cairn::Error> for Failure {
    fn from(error: cairn::Error) -> Failure {
        Failure(error.to_string())
    }
}

/// clap's error as one line: its text up to the usage, on one line (a list of missing
/// arguments is joined to the sentence that announces it), its tips (a similar command), and
/// where to read more.
pub fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().map(str::trim);
    let sentence: Vec<&str> = lines
        .by_ref()
        .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
        .collect();
    let sentence = sentence.join(" ");
    let mut parts = vec![
        sentence
            .strip_prefix("error: ")
            .unwrap_or(&sentence)
            .to_owned(),
    ];
    parts.extend(
        lines
            .take_while(|line| !line.starts_with("Usage:"))
            .filter(|line| line.starts_with("tip:"))
            .map(str::to_owned),
    );
    format!("{} (see `cairn --help`)", parts.join("; "))
}
