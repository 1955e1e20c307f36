//! Pinned layout fingerprints. A stored run carries its workflow's fingerprint, and a runtime
//! refuses to resume a run whose fingerprint it does not know; so a change to how a
//! fingerprint is computed strands every stored run. These values must only change in a
//! reviewed change of the layout scheme (which then keeps the old value accepted, as
//! `Workflow::LEGACY_FINGERPRINT` does for the first scheme).
//!
//! The workflows hold written types of every shape the walk must see through: nested
//! generics, tuples, arrays, paths, references and trait objects in signatures, lifetimes.

use std::collections::BTreeMap;

use cairn::{Context, Workflow, workflow};

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn nested(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let rows: Vec<Option<(u32, String)>> = vec![Some((1, "a".to_owned())), None];
    let grid: [[u8; 2]; 3] = [[0; 2]; 3];
    let d = ctx.task(double, n).await?;
    Ok(d + rows.len() as u64 + grid.len() as u64)
}

// The types are complex on purpose: they are what the fingerprint must walk.
#[allow(clippy::type_complexity)]
#[workflow]
async fn paths(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let index: std::collections::BTreeMap<String, ::std::vec::Vec<u64>> = BTreeMap::new();
    // References, lifetimes and trait objects in a signature, inside a type that is stored.
    let marker: std::marker::PhantomData<fn(&'static str, &mut [u8]) -> Box<dyn Send + Sync>> =
        std::marker::PhantomData;
    let outcome: Result<Option<Box<[u16]>>, (i8, bool)> = Ok(None);
    let d = ctx.task(double, n).await?;
    let _ = (marker, outcome);
    Ok(d + index.len() as u64)
}

/// A method added to what `ctx.task(..)` returns (here by the user; the same holds for one the
/// runtime adds in a later release).
trait Later: Sized {
    fn later(self) -> Self {
        self
    }
}

impl<T> Later for T {}

#[workflow]
async fn plain_chain(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let d = ctx.task(double, n).await?;
    let e = ctx.task(double, d).await?;
    Ok(e)
}

#[workflow(name = "plain_chain")]
async fn extended_chain(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let d = ctx.task(double, n).later().await?;
    let e = ctx.task(double, d).later().await?;
    Ok(e)
}

#[test]
fn fingerprints_are_pinned() {
    assert_eq!(nested::FINGERPRINT, 14996223746184261715, "nested");
    assert_eq!(paths::FINGERPRINT, 12983132995480091741, "paths");
    assert_eq!(plain_chain::FINGERPRINT, 2363819189702476647, "plain_chain");
}

/// A call made on a step (such as a builder method the runtime adds later) renames no state,
/// so the layout and its fingerprint stay those of the same workflow without it.
#[test]
fn a_method_called_on_a_step_changes_no_fingerprint() {
    let names = |graph: &cairn::StateGraph| -> Vec<&str> {
        graph.states.iter().map(|state| state.name).collect()
    };
    assert_eq!(names(plain_chain::graph()), names(extended_chain::graph()));
    assert_eq!(extended_chain::FINGERPRINT, plain_chain::FINGERPRINT);
}
