//! Writing results to standard output: text for people, pretty JSON for scripts.

use std::io::Write;

/// Writes `text` as it is. A closed pipe (`cairn runs | head -1`) ends the output quietly
/// rather than with a panic, as `print!` would: the reader has what it wanted.
pub fn text(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Writes `value` as pretty JSON, with a final newline.
pub fn json(value: &serde_json::Value) {
    let mut rendered = serde_json::to_string_pretty(value).expect("a JSON value always renders");
    rendered.push('\n');
    text(&rendered);
}
