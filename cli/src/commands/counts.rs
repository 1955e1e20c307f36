//! `cairn counts`: how many runs each status has, read from the store's counters (no run is
//! read, however many are stored), with the total.

use cairn::Client;

use crate::failure::Failure;
use crate::output;
use crate::table::Table;

pub fn counts(client: &Client, json: bool) -> Result<(), Failure> {
    let counts = client.count_by_status()?;
    if json {
        let by_status: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(status, count)| (status.to_string(), count.into()))
            .collect();
        output::json(&serde_json::json!({ "counts": by_status, "total": counts.total() }));
        return Ok(());
    }
    let mut table = Table::new(&["STATUS", "RUNS"]);
    for (status, count) in counts.iter() {
        table.row(vec![status.to_string(), count.to_string()]);
    }
    table.row(vec!["total".to_owned(), counts.total().to_string()]);
    output::text(&table.render());
    Ok(())
}
