use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn sum(ctx: &mut Context, ids: Vec<u32>) -> Result<u32, String> {
    let mut total = 0;
    for (i, id) in ids.iter().enumerate() {
        total += ctx.task(fetch, *id + i as u32).await?;
    }
    Ok(total)
}

fn main() {}
