use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn both(ctx: &mut Context, a: u32) -> Result<u32, String> {
    let later = async { ctx.task(fetch, a).await };
    let x = later.await?;
    Ok(x)
}

fn main() {}
