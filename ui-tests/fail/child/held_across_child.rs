use cairn::{Context, workflow};

#[workflow]
async fn double(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let _ = ctx;
    Ok(x * 2)
}

use std::time::Instant;

#[workflow]
async fn parent(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let started = Instant::now();
    let doubled = ctx.child(double, x).await?;
    Ok(doubled + started.elapsed().as_secs())
}

fn main() {}
