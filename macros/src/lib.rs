//! The `#[workflow]` attribute of cairn. Use it through the `cairn` crate, which re-exports it;
//! the generated code names only paths under `::cairn`.
//!
//! The expansion is a pipeline of passes, one folder or file each, run by
//! [`expand_workflow`]:
//! 1. [`parse`] reads the attribute's arguments and the fn's signature;
//! 2. [`normalize`] names each `ctx.task(..)` step, then [`check`] reports awaits in places
//!    that cannot become states, then [`normalize`] makes every `.await` a statement of its own;
//! 3. [`lower`] turns the body into the [`ir`]: blocks, one state per await point plus the
//!    transient states at branch joins and loop heads, and a control-flow graph;
//! 4. [`liveness`] computes which variables each state must hold;
//! 5. [`expand`] writes the state enum and the driver that runs it, or on errors the
//!    [`fallback`](expand::fallback).
//!
//! Errors from every pass are collected in a [`ctxt::Ctxt`] and reported together.
//! Shared by the passes: [`scope`] (name resolution), [`names`] (state and step names),
//! [`await_expr`] (what counts as one await), [`find`] (searches in syntax trees) and [`ids`].

// The crate's only public item is the attribute; its docs are the pipeline's map for the
// engineers who work on it, so they link to the private passes.
#![allow(rustdoc::private_intra_doc_links)]

mod await_expr;
mod check;
mod ctxt;
mod events;
mod expand;
mod find;
mod ids;
mod ir;
mod liveness;
mod lower;
mod names;
mod normalize;
mod parse;
mod scope;

#[cfg(test)]
mod expand_corpus;
#[cfg(test)]
mod expand_tests;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// Turns an `async fn` into a durable workflow.
///
/// See the `cairn` crate for the full documentation.
#[proc_macro_attribute]
pub fn workflow(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand_workflow(args.into(), item.into()).into()
}

/// The whole expansion of `#[workflow(args)] item`: the passes in order.
fn expand_workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = match parse::item(item) {
        Ok(item) => item,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::default();
    let attrs = parse::attr::parse(&cx, args);
    let sig = parse::signature::parse(&cx, &item);
    // With a sound signature, the fallback can still implement `Workflow`.
    let sound_signature = sig.as_ref().filter(|_| cx.is_ok());
    let expanded = sig.as_ref().and_then(|sig| {
        let events = events::find(&sig.ctx, &item.block);
        let mut body = (*item.block).clone();
        normalize::rewrite_task_calls(&sig.ctx, &mut body);
        check::await_positions(&cx, &sig.ctx, &body);
        let body = normalize::normalize(&cx, &sig.ctx, body);
        let mut body = lower::lower(&cx, sig, body);
        if cx.is_ok() {
            liveness::compute(&cx, &mut body);
        }
        cx.is_ok()
            .then(|| expand::generate(&attrs, sig, &body, &events))
    });
    match cx.into_compile_errors() {
        None => expanded.unwrap_or_default(),
        Some(errors) => expand::fallback(&item, errors, sound_signature.map(|sig| (sig, &attrs))),
    }
}
