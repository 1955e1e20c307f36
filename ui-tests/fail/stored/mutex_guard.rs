use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

use std::sync::Mutex;

static TOTAL: Mutex<u32> = Mutex::new(0);

#[workflow]
async fn counted(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let mut total = TOTAL.lock().unwrap();
    let n = ctx.task(fetch, id).await?;
    *total += n;
    Ok(*total)
}

fn main() {}
