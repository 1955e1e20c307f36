use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn all(ctx: &mut Context, ids: Vec<u32>) -> Result<Vec<u32>, String> {
    let fetched: Vec<u32> = ids.into_iter().map(|id| fetch(id).await.unwrap()).collect();
    Ok(fetched)
}

fn main() {}
