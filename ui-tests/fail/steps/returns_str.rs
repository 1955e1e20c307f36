use cairn::{Context, workflow};

async fn label(_: u64) -> Result<&'static str, String> {
    Ok("label")
}

async fn store(_: u64) -> Result<u64, String> {
    Ok(1)
}

#[workflow]
async fn labelled(ctx: &mut Context, n: u64) -> Result<usize, String> {
    let name = ctx.task(label, n).await?;
    let m = ctx.task(store, n).await?;
    Ok(name.len() + m as usize)
}

fn main() {}
