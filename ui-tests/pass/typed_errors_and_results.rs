//! A workflow with its own error type, `anyhow`-style boxed errors and an io::Result.
use cairn::{Context, workflow};

#[derive(Debug)]
enum MyError {
    Io(std::io::Error),
    Cairn(cairn::Error),
}

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MyError::Io(e) => write!(f, "io: {e}"),
            MyError::Cairn(e) => write!(f, "cairn: {e}"),
        }
    }
}

impl From<std::io::Error> for MyError {
    fn from(e: std::io::Error) -> Self {
        MyError::Io(e)
    }
}

impl From<cairn::Error> for MyError {
    fn from(e: cairn::Error) -> Self {
        MyError::Cairn(e)
    }
}

async fn read(path: String) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[workflow]
async fn typed(ctx: &mut Context, path: String) -> Result<usize, MyError> {
    let text = ctx.task(read, path).await?;
    Ok(text.len())
}

#[workflow]
async fn io_result(ctx: &mut Context, path: String) -> std::io::Result<usize> {
    let text = ctx.task(read, path).await?;
    Ok(text.len())
}

fn main() {}
