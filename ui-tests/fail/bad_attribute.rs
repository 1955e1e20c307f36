use cairn::{Context, workflow};

#[workflow(nmae = "typo")]
async fn typo(ctx: &mut Context, id: u32) -> Result<u32, String> {
    Ok(id)
}

fn main() {}
