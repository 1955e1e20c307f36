use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn lookup(ctx: &mut Context, name: &str) -> Result<usize, String> {
    Ok(name.len())
}

fn main() {}
