use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn both(ctx: &mut Context, a: u32, b: u32) -> Result<u32, String> {
    let (x, y) = tokio::join!(fetch(a), fetch(b));
    Ok(x? + y?)
}

fn main() {}
