use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn pick(ctx: &mut Context, id: Option<u32>) -> Result<u32, String> {
    let picked = match id {
        Some(id) if ctx.task(fetch, id).await? > 3 => id,
        _ => 0,
    };
    Ok(picked)
}

fn main() {}
