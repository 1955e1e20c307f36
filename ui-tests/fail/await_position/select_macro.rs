use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn first(ctx: &mut Context, a: u32, b: u32) -> Result<u32, String> {
    let x = tokio::select! {
        x = fetch(a) => x?,
        y = fetch(b) => y?,
    };
    Ok(x)
}

fn main() {}
