//! An order that fans out to child workflows: one `ship_item` run per item, a few at a time
//! (`cairn::child` branches of `ctx.parallel`), then one `send_invoice` run (`ctx.child`).
//!
//! ```text
//! cargo run --example order_fulfilment [DATA_DIR]
//! ```
//!
//! Each child is a run of its own, with its own steps and status; the order holds no task
//! while they run, and is resumed when they have finished. Kill the program (`kill -9` works)
//! and run it again: the order resumes waiting for the children it started (it never starts a
//! second one), and no committed step of any run is done again. State is kept in LMDB under
//! `DATA_DIR`, else `$CAIRN_DATA_DIR`, else `./cairn-data`; delete that directory to start
//! over.

use std::time::Duration;

use cairn::{Context, Runtime, child, workflow};
use serde::{Deserialize, Serialize};

/// One line of an order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    sku: String,
    quantity: u32,
}

/// What shipping one item yields.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Parcel {
    sku: String,
    tracking: String,
}

/// Stands in for a warehouse call: slow enough to watch, and to interrupt.
async fn pick(item: Item) -> Result<Item, String> {
    tokio::time::sleep(Duration::from_millis(
        200 + 50 * u64::from(item.quantity % 4),
    ))
    .await;
    Ok(item)
}

async fn label(item: Item, key: String) -> Result<Parcel, String> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(Parcel {
        // The key (store, run, position) is the same if the step runs again after a crash.
        tracking: format!("TRK-{}", key.split('-').nth(1).unwrap_or("0")),
        sku: item.sku,
    })
}

async fn invoice(order: String, parcels: usize) -> Result<String, String> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    Ok(format!("invoice for {order}: {parcels} parcels"))
}

/// A child: picks one item and labels its parcel.
#[workflow]
pub async fn ship_item(ctx: &mut Context, item: Item) -> Result<Parcel, String> {
    let picked = ctx.task(pick, item).await?;
    let key = ctx.idempotency_key();
    let parcel = ctx.task(label, picked, key).await?;
    Ok(parcel)
}

/// A child: one step.
#[workflow]
pub async fn send_invoice(
    ctx: &mut Context,
    order: String,
    parcels: usize,
) -> Result<String, String> {
    let sent = ctx.task(invoice, order, parcels).await?;
    Ok(sent)
}

/// The parent: ships every item as a child run, three at a time, then invoices.
#[workflow]
pub async fn order_fulfilment(
    ctx: &mut Context,
    order: String,
    items: Vec<Item>,
) -> Result<(Vec<Parcel>, String), String> {
    let shipments: Vec<_> = items
        .into_iter()
        .map(|item| child(ship_item, item))
        .collect();
    let parcels = ctx.parallel(shipments).limit(3).await?;
    let invoice = ctx.child(send_invoice, (order, parcels.len())).await?;
    Ok((parcels, invoice))
}

fn items() -> Vec<Item> {
    ["kettle", "mug", "teapot", "saucer", "spoon"]
        .iter()
        .zip(1..)
        .map(|(sku, quantity)| Item {
            sku: (*sku).to_owned(),
            quantity,
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Runtime::builder();
    if let Some(dir) = std::env::args_os().nth(1) {
        builder = builder.path(dir);
    }
    let runtime = builder
        .register(order_fulfilment)
        .register(ship_item)
        .register(send_invoice)
        .start()?;
    let client = runtime.client();
    // Resume the order of an earlier, interrupted invocation, if there is one.
    let existing = client
        .list(None)?
        .into_iter()
        .find(|run| run.workflow == "order_fulfilment");
    let run = match existing {
        Some(run) => {
            println!("resuming order run {} ({})", run.id, run.status);
            run.id
        }
        None => {
            let run = client
                .start(order_fulfilment, ("order-42".to_owned(), items()))
                .await?;
            println!("started order run {run}");
            run
        }
    };
    let (parcels, invoice) = client.wait(order_fulfilment, run).await?;
    for parcel in &parcels {
        println!("shipped {} ({})", parcel.sku, parcel.tracking);
    }
    println!("{invoice}");
    println!("child runs of {run}: {:?}", client.children(run)?);
    runtime.shutdown().await;
    Ok(())
}
