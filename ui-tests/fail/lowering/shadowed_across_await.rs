use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn shadow(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let total = id;
    {
        let total = ctx.task(fetch, id).await?;
        ctx.task(fetch, total).await?;
    }
    Ok(total)
}

fn main() {}
