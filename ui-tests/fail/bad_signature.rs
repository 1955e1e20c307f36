use cairn::{Context, workflow};

#[workflow]
fn not_async(ctx: &mut Context, id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn no_context(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn no_result(ctx: &mut Context, id: u32) {}

#[workflow]
async fn borrowed_input(ctx: &mut Context, name: &str) -> Result<u32, String> {
    Ok(1)
}

fn main() {}
