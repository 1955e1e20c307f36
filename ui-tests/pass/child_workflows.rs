//! `ctx.child` and `cairn::child` branches compile with typed inputs and outputs, values held
//! across them stored like any other.

use cairn::{Context, child, workflow};

#[workflow]
async fn double(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let _ = ctx;
    Ok(x * 2)
}

#[workflow]
async fn describe(ctx: &mut Context, x: u64, label: String) -> Result<String, String> {
    let _ = ctx;
    Ok(format!("{label}: {x}"))
}

#[workflow]
async fn parent(ctx: &mut Context, x: u64) -> Result<(u64, String, Vec<u64>), String> {
    let kept = vec![x; 3];
    let doubled = ctx.child(double, x).await?;
    let text = ctx.child(describe, (doubled, "doubled".to_owned())).await?;
    let (a, b) = ctx
        .parallel((child(double, 1), child(describe, (2, "two".to_owned()))))
        .await?;
    let many = ctx
        .parallel(kept.iter().map(|&k| child(double, k)).collect::<Vec<_>>())
        .await?;
    Ok((a + doubled, format!("{text} {b}"), many))
}

fn main() {}
