use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

use std::io::Write;

#[workflow]
async fn logged(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let mut log = std::fs::File::create("log.txt").map_err(|e| e.to_string())?;
    let n = ctx.task(fetch, id).await?;
    writeln!(log, "{n}").map_err(|e| e.to_string())?;
    Ok(n)
}

fn main() {}
