use cairn::{Context, workflow};

async fn greet(name: String) -> Result<String, String> {
    Ok(format!("hello {name}"))
}

#[workflow]
async fn greetings(ctx: &mut Context) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in ["ada", "grace"] {
        out.push(ctx.task(greet, name.to_owned()).await?);
    }
    Ok(out)
}

fn main() {}
