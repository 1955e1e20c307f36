use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn greeting(ctx: &mut Context, name: String) -> Result<usize, String> {
    let short = name.as_str();
    let n = ctx.task(fetch, 1).await?;
    Ok(short.len() + n as usize)
}

fn main() {}
