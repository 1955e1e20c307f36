use cairn::{Context, workflow};

async fn read_cache(key: String) -> std::io::Result<String> {
    Ok(key)
}

async fn compute(key: String) -> Result<String, String> {
    Ok(key)
}

#[workflow]
async fn kept(ctx: &mut Context, key: String) -> Result<String, String> {
    // Kept past the next `.await`: stored, error included.
    let cached = ctx.task(read_cache, key.clone()).await;
    let fresh = ctx.task(compute, key.clone()).await?;
    Ok(cached.unwrap_or(fresh))
}

#[workflow]
async fn arm_awaits(ctx: &mut Context, key: String) -> Result<String, String> {
    // An arm with an `.await` needs the outcome in a state.
    let value = match ctx.task(read_cache, key.clone()).await {
        Ok(value) => value,
        Err(_) => ctx.task(compute, key).await?,
    };
    Ok(value)
}

fn main() {}
