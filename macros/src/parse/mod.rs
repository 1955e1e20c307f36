//! The first pass: reads what the user wrote into the forms the later passes take. The item
//! must be a fn ([`item`]); [`attr`] reads the attribute's arguments, [`signature`] reads and
//! checks the fn's signature. Problems go to the [`Ctxt`](crate::ctxt::Ctxt), so that one build
//! reports all of them.

pub mod attr;
pub mod signature;

use proc_macro2::TokenStream;
use syn::ItemFn;

/// The item under `#[workflow]`, or the error that says what the attribute goes on.
pub fn item(item: TokenStream) -> syn::Result<ItemFn> {
    syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            "#[workflow] goes on an `async fn`: `async fn name(ctx: &mut Context, input: I) -> Result<T, E>`",
        )
    })
}
