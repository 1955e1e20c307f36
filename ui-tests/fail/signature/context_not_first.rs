use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn lookup(id: u32, ctx: &mut Context) -> Result<u32, String> {
    ctx.task(fetch, id).await
}

fn main() {}
