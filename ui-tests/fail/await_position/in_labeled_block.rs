use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn labeled(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let x = 'done: {
        if id == 0 {
            break 'done 0;
        }
        ctx.task(fetch, id).await?
    };
    Ok(x)
}

fn main() {}
