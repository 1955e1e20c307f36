use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

struct Job {
    id: u32,
}

#[workflow]
async fn jobs(ctx: &mut Context, ids: Vec<u32>) -> Result<u32, String> {
    let mut total = 0;
    for job in ids.into_iter().map(|id| Job { id }) {
        total += ctx.task(fetch, job.id).await?;
    }
    Ok(total)
}

fn main() {}
