//! `cairn purge --finished-before TIME`: deletes the finished runs a filter selects, with
//! everything stored of them, in the library's bounded batches (the commits of running
//! workflows wait for one batch at most). `--dry-run` counts them instead.

use cairn::Client;
use serde_json::json;

use crate::args::PurgeArgs;
use crate::failure::Failure;
use crate::output;

/// How many runs one read of a dry run lists.
const PAGE: usize = 1_000;

pub async fn purge(client: &Client, what: &PurgeArgs, json: bool) -> Result<(), Failure> {
    let filter = what.filter();
    let count = if what.dry_run {
        let mut count = 0;
        let mut cursor = None;
        loop {
            let page = client.list_runs(&filter, PAGE, cursor)?;
            count += page.runs.len() as u64;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break count,
            }
        }
    } else {
        client.purge(&filter).await?
    };
    if json {
        let key = if what.dry_run {
            "would_purge"
        } else {
            "purged"
        };
        output::json(&json!({ key: count }));
    } else if what.dry_run {
        output::text(&format!("{count} finished runs would be purged\n"));
    } else {
        output::text(&format!("{count} finished runs purged\n"));
    }
    Ok(())
}
