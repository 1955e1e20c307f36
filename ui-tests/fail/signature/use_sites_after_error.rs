//! After an error in a workflow's body, its uses elsewhere add no errors of their own.
use cairn::{Context, Runtime, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[workflow]
async fn broken(ctx: &mut Context, id: u32) -> Result<u32, String> {
    println!("{}", ctx.task(fetch, id).await?);
    Ok(id)
}

async fn use_it() -> Result<u32, cairn::Error> {
    let runtime = Runtime::builder().path("db").register(broken).start()?;
    let client = runtime.client();
    let run = client.start(broken, 1).await?;
    client.wait(broken, run).await
}

fn main() {
    let _ = use_it();
}
