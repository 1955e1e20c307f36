//! Code that must compile: awaits in many positions, with no type annotations beyond what
//! plain Rust needs.
use cairn::{Context, workflow};

async fn fetch(id: u32) -> Result<u32, String> {
    Ok(id)
}

async fn names() -> Result<Vec<String>, String> {
    Ok(vec!["a".to_owned()])
}

#[workflow]
async fn tricky(ctx: &mut Context, ids: Vec<u32>, flag: bool) -> Result<String, String> {
    let mut seen = Vec::new();
    for id in ids {
        let value = if flag { ctx.task(fetch, id).await? } else { id };
        seen.push(value);
    }
    let mut rest = ctx.task(names).await?;
    while let Some(name) = rest.pop() {
        let n = ctx.task(fetch, name.len() as u32).await?;
        seen.push(n);
    }
    let label = match seen.first() {
        Some(&first) if first > 3 => format!("big {first}"),
        Some(first) => {
            let fetched = ctx.task(fetch, *first).await?;
            format!("small {fetched}")
        }
        None => String::new(),
    };
    Ok(label)
}

fn main() {}
