//! Event waits in every form: typed, inferred, with a timeout and with a default, the payload
//! held across later awaits.

use std::time::Duration;

use cairn::{Context, Workflow, workflow};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Payment {
    cents: u64,
}

async fn ship(cents: u64) -> Result<u64, String> {
    Ok(cents)
}

#[workflow]
async fn order(ctx: &mut Context, name: String) -> Result<String, String> {
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    let note: Option<String> = ctx
        .wait_for_event("note")
        .timeout(Duration::from_secs(60))
        .await?;
    let express = ctx
        .wait_for_event::<bool>("express")
        .timeout_or(Duration::from_secs(60), false)
        .await?;
    let shipped = ctx.task(ship, payment.cents).await?;
    Ok(format!("{name} {shipped} {note:?} {express}"))
}

fn main() {
    // The typed waits are registered, the inferred one is not.
    let names: Vec<&str> = <order as Workflow>::events().iter().map(|e| e.name).collect();
    assert_eq!(names, ["paid", "express"]);
}
