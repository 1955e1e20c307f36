use cairn::{Context, RetryPolicy, workflow};

#[derive(serde::Serialize, serde::Deserialize)]
struct Card {
    number: String,
}

async fn charge_card(card: Card, amount: u64) -> Result<String, String> {
    Ok(format!("{}:{amount}", card.number))
}

#[workflow]
async fn checkout(ctx: &mut Context, card: Card, amount: u64) -> Result<String, String> {
    let charge = ctx
        .task(charge_card, card, amount)
        .retry(RetryPolicy::exponential(5))
        .await?;
    Ok(charge)
}

fn main() {}
