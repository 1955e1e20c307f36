use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn first(ctx: &mut Context, ids: Vec<u32>) -> Result<u32, String> {
    let first = &ids[0];
    let n = ctx.task(fetch, *first).await?;
    Ok(n + *first)
}

fn main() {}
