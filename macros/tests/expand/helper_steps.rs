// A helper fn that takes the context and runs one step, awaited in a loop next to a task;
// per-run key-value state written between awaits.
#[workflow]
async fn uses_one_step(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut total = 0;
    for i in 0..n {
        total += one_step(ctx, i).await?;
        ctx.state().set("total", &total)?;
    }
    let doubled = ctx.task(double, total).await?;
    Ok(doubled)
}
