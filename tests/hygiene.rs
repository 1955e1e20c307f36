//! The generated code names everything by its full path and invents only `__`-prefixed,
//! mixed-site names, so a workflow compiles among hostile names and with every warning denied.

#![deny(warnings)]
#![allow(dead_code, non_camel_case_types)]

mod hostile {
    // Names the expansion must not pick up in place of the real ones.
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct Option;
    pub struct Box;
    pub struct String;
    pub struct Vec;
    pub struct Default;
    pub mod core {}
    pub mod std {}
    pub mod serde {}
    pub mod cairn {}

    use ::cairn::{Context, workflow};

    async fn double(x: u32) -> ::std::result::Result<u32, ::std::string::String> {
        ::std::result::Result::Ok(x * 2)
    }

    #[workflow]
    pub async fn hostile(
        ctx: &mut Context,
        items: ::std::vec::Vec<u32>,
    ) -> ::std::result::Result<u32, ::std::string::String> {
        let mut total = 0;
        for item in items {
            if item == 0 {
                continue;
            }
            total += ctx.task(double, item).await?;
        }
        let __state = 7;
        let __codec = 1;
        ::std::result::Result::Ok(total + __state + __codec)
    }

    /// A typed event wait: `#[workflow]` generates `Workflow::events` for it.
    #[workflow]
    pub async fn hostile_events(
        ctx: &mut Context,
        x: u32,
    ) -> ::std::result::Result<u32, ::std::string::String> {
        let got = ctx
            .wait_for_event::<u32>("n")
            .timeout(::std::time::Duration::ZERO)
            .await?;
        ::std::result::Result::Ok(got.unwrap_or(x))
    }
}

#[tokio::test]
async fn a_workflow_among_hostile_names_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = cairn::Runtime::builder()
        .path(dir.path())
        .register(hostile::hostile)
        .start()
        .unwrap();
    let output = runtime
        .client()
        .run(hostile::hostile, vec![1, 0, 2])
        .await
        .unwrap();
    assert_eq!(output, 6 + 7 + 1);
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_workflow_waiting_for_an_event_among_hostile_names_runs() {
    use cairn::Workflow as _;
    let names: Vec<&str> = hostile::hostile_events::events()
        .iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["n"]);
    let dir = tempfile::tempdir().unwrap();
    let runtime = cairn::Runtime::builder()
        .path(dir.path())
        .register(hostile::hostile_events)
        .start()
        .unwrap();
    let output = runtime
        .client()
        .run(hostile::hostile_events, 5)
        .await
        .unwrap();
    assert_eq!(output, 5, "no event within a zero timeout");
    runtime.shutdown().await;
}
