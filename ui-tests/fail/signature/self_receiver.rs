use cairn::workflow;


struct Service;

impl Service {
    #[workflow]
    async fn lookup(&self, id: u32) -> Result<u32, String> {
        Ok(id)
    }
}

fn main() {}
