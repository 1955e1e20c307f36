// The forms around steps: a retried task (its arguments cloned per attempt), a step's error
// handled in the statement of its await (never stored), and tasks as parallel branches.
#[workflow]
async fn checkout(ctx: &mut Context, card: Card, key: String) -> Result<String, String> {
    let receipt = ctx
        .task(charge_card, card, 120)
        .retry(RetryPolicy::exponential(5))
        .await?;
    let cached = match ctx.task(read_cache, key.clone()).await {
        Ok(value) => value,
        Err(_) => receipt.clone(),
    };
    let (a, b) = ctx
        .parallel((ctx.task(search, cached.clone()), ctx.task(search, key)))
        .await?;
    Ok(a + &b)
}
