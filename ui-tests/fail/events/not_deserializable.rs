use cairn::{Context, workflow};

struct Payment {
    cents: u64,
}

#[workflow]
async fn order(ctx: &mut Context, name: String) -> Result<String, String> {
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    Ok(format!("{name} paid {}", payment.cents))
}

fn main() {}
