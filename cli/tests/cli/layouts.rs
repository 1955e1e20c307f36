//! `cairn show` on a run stored by an older layout of its workflow: what changed in the state
//! it is in (read from the descriptions both versions stored, without their code) and the two
//! ways out.

use cairn::{Context, Flow, Runtime, workflow};

use crate::fixture::{block_on, cairn};

async fn add(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

#[workflow(name = "tally")]
async fn tally_v1(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(add, n).await?;
    let b = ctx.task(add, a).await?;
    Ok(b)
}

/// Keeps `n` across the first step: the state the old run is in gains a field.
#[workflow(name = "tally")]
async fn tally_v2(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(add, n).await?;
    let b = ctx.task(add, a).await?;
    Ok(b + n)
}

#[test]
fn show_says_what_changed_in_the_state_of_a_run_of_an_older_layout() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("data");
    block_on(async {
        let runtime = Runtime::builder()
            .path(&path)
            .register(tally_v1)
            .on_transition(|_| Flow::Halt)
            .start()
            .unwrap();
        let client = runtime.client();
        let run = client.start(tally_v1, 1).await.unwrap();
        assert!(client.wait(tally_v1, run).await.is_err());
        runtime.shutdown().await;
        // The new build registers its version and leaves the run alone.
        let runtime = Runtime::builder()
            .path(&path)
            .register(tally_v2)
            .start()
            .unwrap();
        assert_eq!(runtime.incompatible_runs().len(), 1);
        runtime.shutdown().await;
    });
    let dir = path.to_str().unwrap();
    let text = cairn(&["--dir", dir, "show", "1"]).ok();
    let layout = text
        .lines()
        .find(|line| line.starts_with("layout"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        layout.contains("state `Add`: field `n: u64` was added"),
        "{layout}"
    );
    assert!(layout.contains("register_previous"), "{layout}");
    assert!(layout.contains("RuntimeBuilder::migrate"), "{layout}");

    let shown = cairn(&["--dir", dir, "show", "1", "--json"]).json();
    assert_eq!(
        shown["layout_changes"],
        serde_json::json!(["state `Add`: field `n: u64` was added"])
    );
}
