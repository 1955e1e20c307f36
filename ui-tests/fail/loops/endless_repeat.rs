use cairn::{Context, workflow};

async fn poll(id: u32) -> Result<bool, String> {
    Ok(id > 0)
}

#[workflow]
async fn wait_ready(ctx: &mut Context, id: u32) -> Result<u32, String> {
    let mut polls = 0;
    for id in std::iter::repeat(id) {
        polls += 1;
        if ctx.task(poll, id).await? {
            break;
        }
    }
    Ok(polls)
}

fn main() {}
