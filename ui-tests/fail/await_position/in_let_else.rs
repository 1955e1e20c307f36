use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn checked(ctx: &mut Context, id: Option<u32>) -> Result<u32, String> {
    let Some(id) = id else {
        ctx.task(fetch, 0).await?;
        return Err("no id".to_owned());
    };
    Ok(id)
}

fn main() {}
