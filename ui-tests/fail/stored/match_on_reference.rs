use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn lookup(ctx: &mut Context, id: Option<String>) -> Result<usize, String> {
    let len = match &id {
        Some(name) => {
            let n = ctx.task(fetch, 1).await?;
            name.len() + n as usize
        }
        None => 0,
    };
    Ok(len)
}

fn main() {}
