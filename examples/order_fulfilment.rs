//! An order that waits for its payment (an event sent into the run from another process),
//! then fans out to child workflows: one `ship_item` run per item, a few at a time
//! (`cairn::child` branches of `ctx.parallel`), then one `send_invoice` run (`ctx.child`).
//!
//! ```text
//! cargo run --example order_fulfilment -- start        # starts an order; it waits for its payment
//! cargo run --example order_fulfilment -- pay RUN 4200 # another process: sends the payment event
//! cargo run --example order_fulfilment -- resume       # ships and invoices every paid order
//! ```
//!
//! The order waits on disk for its `paid` event, holding no task: `start` exits while it
//! waits, and `pay` (which opens the store client-only and runs nothing) may come minutes or
//! days later; an event sent before the order waits for it is kept, not lost. Each child is a
//! run of its own, with its own steps and status; the order holds no task while they run, and
//! is resumed when they have finished. Kill `resume` (`kill -9` works) and run it again: the
//! order resumes waiting for the children it started (it never starts a second one), and no
//! committed step of any run is done again. State is kept in LMDB under `$CAIRN_DATA_DIR`,
//! else `./cairn-data`; delete that directory to start over.

use std::time::Duration;

use cairn::{Client, Context, RunId, Runtime, child, workflow};
use serde::{Deserialize, Serialize};

/// One line of an order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    sku: String,
    quantity: u32,
}

/// The payment provider's notice, sent into the order's run as the event `paid`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Payment {
    cents: u64,
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

async fn invoice(order: String, parcels: usize, cents: u64) -> Result<String, String> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    Ok(format!(
        "invoice for {order}: {parcels} parcels, {}.{:02} paid",
        cents / 100,
        cents % 100
    ))
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
    cents: u64,
) -> Result<String, String> {
    let sent = ctx.task(invoice, order, parcels, cents).await?;
    Ok(sent)
}

/// The parent: waits for the payment, ships every item as a child run, three at a time, then
/// invoices.
#[workflow]
pub async fn order_fulfilment(
    ctx: &mut Context,
    order: String,
    items: Vec<Item>,
) -> Result<(Vec<Parcel>, String), String> {
    let payment = ctx.wait_for_event::<Payment>("paid").await?;
    let shipments: Vec<_> = items
        .into_iter()
        .map(|item| child(ship_item, item))
        .collect();
    let parcels = ctx.parallel(shipments).limit(3).await?;
    let invoice = ctx
        .child(send_invoice, (order, parcels.len(), payment.cents))
        .await?;
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

fn usage() -> ! {
    eprintln!("usage: order_fulfilment start | pay RUN CENTS | resume");
    std::process::exit(2)
}

fn data_dir() -> std::path::PathBuf {
    std::env::var_os("CAIRN_DATA_DIR").map_or_else(|| "cairn-data".into(), Into::into)
}

fn runtime() -> Result<Runtime, cairn::Error> {
    Runtime::builder()
        .path(data_dir())
        .register(order_fulfilment)
        .register(ship_item)
        .register(send_invoice)
        .start()
}

/// Whether the order `run` is parked waiting for its `paid` event: it waits with no child
/// started yet. Watches it until it is finished, parked on its children or parked on the event.
async fn waits_for_payment(client: &Client, run: RunId) -> Result<bool, cairn::Error> {
    let mut watch = client.watch(run)?;
    while let Some(update) = watch.next().await {
        let update = update?;
        if update.is_final() {
            return Ok(false);
        }
        if update.status == cairn::Status::Waiting {
            return Ok(client.children(run)?.is_empty());
        }
    }
    Ok(false)
}

#[tokio::main]
async fn main() -> Result<(), cairn::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["start"] => {
            let runtime = runtime()?;
            let run = runtime
                .client()
                .start(order_fulfilment, ("order-42".to_owned(), items()))
                .await?;
            println!("started order run {run}; it waits for its payment: `pay {run} CENTS`");
            runtime.shutdown().await;
        }
        ["pay", run, cents] => {
            let run: RunId = run.parse().unwrap_or_else(|_| usage());
            let cents: u64 = cents.parse().unwrap_or_else(|_| usage());
            // Client-only: this process runs no workflow, and may run beside `resume`.
            let client = Client::open(data_dir())?;
            match client.send(run, "paid", &Payment { cents }).await {
                Ok(_) => println!("run {run}: payment sent; `resume` ships the order"),
                Err(error) => {
                    eprintln!("{error}");
                    std::process::exit(1);
                }
            }
        }
        ["resume"] => {
            // Starting the runtime resumes every unfinished run; paid orders go on.
            let runtime = runtime()?;
            let client = runtime.client();
            let orders: Vec<_> = client
                .list(None)?
                .into_iter()
                .filter(|run| run.workflow == "order_fulfilment")
                .collect();
            for order in orders {
                if waits_for_payment(&client, order.id).await? {
                    println!("order run {}: waits for its payment", order.id);
                    continue;
                }
                let (parcels, invoice) = client.wait(order_fulfilment, order.id).await?;
                for parcel in &parcels {
                    println!("shipped {} ({})", parcel.sku, parcel.tracking);
                }
                println!("{invoice}");
                let children: Vec<String> = client
                    .children(order.id)?
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("child runs of {}: {}", order.id, children.join(", "));
            }
            runtime.shutdown().await;
        }
        _ => usage(),
    }
    Ok(())
}
