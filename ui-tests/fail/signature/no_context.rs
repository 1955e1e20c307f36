use cairn::workflow;


#[workflow]
async fn lookup(id: u32) -> Result<u32, String> {
    Ok(id)
}

fn main() {}
