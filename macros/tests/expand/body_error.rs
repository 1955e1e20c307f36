// A body the macro refuses (an await in a closure): the error, and the fallback that keeps
// the workflow's uses elsewhere free of errors of their own.
#[workflow(name = "broken")]
async fn broken(ctx: &mut Context, items: Vec<u32>) -> Result<u32, String> {
    let first = ctx.task(fetch, 1).await?;
    let doubled: Vec<u32> = items.iter().map(|x| async { x * 2 }.await).collect();
    Ok(first + doubled.len() as u32)
}
