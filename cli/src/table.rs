//! Plain-text tables for people: a header, columns padded to their widest cell, two spaces
//! between columns. Cells are kept to one line and cut at a maximum width, so that a long
//! error message does not push the other columns off the screen (`--json` has it whole).

use std::fmt::Write;

/// The widest a cell is shown; longer text ends in `…`.
const MAX_CELL: usize = 60;

/// What an empty cell shows.
const EMPTY: &str = "-";

/// A table being filled row by row.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Appends a row, one cell per header.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.rows[0].len());
        self.rows
            .push(cells.into_iter().map(|cell| shown(&cell)).collect());
    }

    /// The table as lines of text, the last column not padded.
    pub fn render(&self) -> String {
        let columns = self.rows[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .map(|row| width(&row[c]))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == columns {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell}{:pad$}  ", "", pad = widths[c] - width(cell));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A cell as shown: on one line, at most [`MAX_CELL`] characters, `-` if empty.
fn shown(cell: &str) -> String {
    let one_line = cell.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return EMPTY.to_owned();
    }
    if width(&one_line) <= MAX_CELL {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
    cut.push('…');
    cut
}

/// The width of a cell in characters (cells are not expected to hold wide characters).
fn width(cell: &str) -> usize {
    cell.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_long_cells_cut() {
        let mut table = Table::new(&["RUN", "ERROR"]);
        table.row(vec!["7".into(), "boom\non two lines".into()]);
        table.row(vec!["10".into(), String::new()]);
        table.row(vec!["11".into(), "x".repeat(100)]);
        let rendered = table.render();
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[0], "RUN  ERROR");
        assert_eq!(lines[1], "7    boom on two lines");
        assert_eq!(lines[2], "10   -");
        assert_eq!(lines[3], format!("11   {}…", "x".repeat(59)));
    }
}
