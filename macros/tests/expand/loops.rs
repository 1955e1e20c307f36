/// Retries until a poll succeeds, then processes a batch with labeled loops.
#[workflow(name = "billing.retry", version = 2)]
async fn retry(ctx: &mut Context, batch: Vec<u32>) -> Result<u32, Error> {
    let mut attempts = 0;
    let ready = loop {
        attempts += 1;
        if ctx.task(poll, attempts).await? {
            break true;
        }
        if attempts == 5 {
            break false;
        }
    };
    let mut done = 0;
    'items: for item in batch {
        while done < item {
            if item == 13 {
                continue 'items;
            }
            done += ctx.task(process, item).await?;
        }
    }
    Ok(if ready { done } else { 0 })
}
