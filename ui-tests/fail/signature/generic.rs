use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn lookup<T: Clone>(ctx: &mut Context, id: T) -> Result<T, String> {
    Ok(id)
}

fn main() {}
