use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn lookup(ctx: &mut Context, id: u32) -> u32 {
    ctx.task(fetch, id).await.unwrap_or(0)
}

fn main() {}
