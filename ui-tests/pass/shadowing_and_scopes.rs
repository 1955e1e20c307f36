//! Shadowing, inner scopes, deferred initialization and moves that must compile.
use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn scopes(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let id = id + 1;
    let total;
    if id > 2 {
        total = ctx.task(fetch, id).await?;
    } else {
        total = 0;
    }
    let label = String::from("n");
    let moved = label;
    let id = ctx.task(fetch, id).await?;
    let doubled = {
        let id = id * 2;
        ctx.task(fetch, id).await?
    };
    Ok(total + doubled + moved.len() as u32)
}

fn main() {}
