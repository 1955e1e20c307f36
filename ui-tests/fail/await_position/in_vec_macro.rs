use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn collect(ctx: &mut Context, id: u32) -> Result<Vec<u32>, String> {
    let all = vec![ctx.task(fetch, id).await?, 2];
    Ok(all)
}

fn main() {}
