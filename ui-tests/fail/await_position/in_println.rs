use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn report(ctx: &mut Context, id: u32) -> Result<(), String> {
    println!("{}", ctx.task(fetch, id).await?);
    Ok(())
}

fn main() {}
