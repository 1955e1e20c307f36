//! The `#[workflow]` attribute of cairn. Use it through the `cairn` crate, which re-exports it;
//! the generated code names only paths under `::cairn`.
//!
//! The expansion runs in passes, each in its own module:
//! 1. `attr` and `signature` read the attribute arguments and check the fn's signature;
//! 2. `normalize` rewrites the body so that every `.await` is a statement of its own;
//! 3. `lower` turns the body into the `ir` tree and a control-flow graph, with one state per
//!    await point plus the transient states at branch joins and loop heads;
//! 4. `liveness` computes which variables each state must hold;
//! 5. `expand` writes the state enum and the driver that runs it.
//!
//! Errors from every pass are collected in a `ctxt::Ctxt` and reported together.

mod attr;
mod await_expr;
mod ctxt;
mod expand;
mod find;
mod ids;
mod ir;
mod liveness;
mod lower;
mod names;
mod normalize;
mod scope;
mod signature;

#[cfg(test)]
mod expand_corpus;
#[cfg(test)]
mod expand_tests;

use proc_macro::TokenStream;

/// Turns an `async fn` into a durable workflow.
///
/// See the `cairn` crate for the full documentation.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::workflow(args.into(), item.into()).into()
}
