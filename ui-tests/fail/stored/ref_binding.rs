use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn named(ctx: &mut Context, pair: (String, u32)) -> Result<usize, String> {
    let (ref name, id) = pair;
    let n = ctx.task(fetch, id).await?;
    Ok(name.len() + n as usize)
}

fn main() {}
