use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn scaled(ctx: &mut Context, factor: u32) -> Result<u32, String> {
    let scale = move |x: u32| x * factor;
    let n = ctx.task(fetch, 2).await?;
    Ok(scale(n))
}

fn main() {}
