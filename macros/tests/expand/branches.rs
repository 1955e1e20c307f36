/// Picks a route, with awaits in a condition, in branches, in a `match` and in an expression.
#[workflow]
async fn route(ctx: &mut Context, order: Order) -> Result<u64, Error> {
    let mut cost = 0;
    if ctx.task(in_stock, order.item).await? {
        cost += ctx.task(reserve, order.item, order.count).await?;
    } else {
        ctx.step("notify_backorder", notify(order.item)).await?;
    }
    let shipping = match order.speed {
        Speed::Express => ctx.task(quote_express, order.item).await?,
        Speed::Normal => 5,
    };
    let total = apply_tax(ctx.task(convert, cost + shipping).await?);
    Ok(total)
}
