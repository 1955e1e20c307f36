use cairn::workflow;


#[workflow]
struct Lookup;

fn main() {}
