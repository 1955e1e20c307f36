use std::time::Instant;

use cairn::{Context, workflow};

#[workflow]
async fn timed(ctx: &mut Context, name: String) -> Result<String, String> {
    let started = Instant::now();
    let paid = ctx.wait_for_event::<u64>("paid").await?;
    Ok(format!("{name} paid {paid} after {:?}", started.elapsed()))
}

fn main() {}
