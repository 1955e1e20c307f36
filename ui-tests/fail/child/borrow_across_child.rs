use cairn::{Context, workflow};

#[workflow]
async fn count(ctx: &mut Context, name: String) -> Result<usize, String> {
    let _ = ctx;
    Ok(name.len())
}

#[workflow]
async fn parent(ctx: &mut Context, name: String) -> Result<usize, String> {
    let short = name.as_str();
    let n = ctx.child(count, name.clone()).await?;
    Ok(short.len() + n)
}

fn main() {}
