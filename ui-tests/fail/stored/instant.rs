use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

use std::time::Instant;

#[workflow]
async fn timed(ctx: &mut Context, id: u32) -> Result<u64, String> {
    let started = Instant::now();
    let n = ctx.task(fetch, id).await?;
    Ok(u64::from(n) + started.elapsed().as_secs())
}

fn main() {}
