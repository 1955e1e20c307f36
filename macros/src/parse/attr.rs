//! The arguments of `#[workflow(...)]`.
//!
//! Accepted forms: `#[workflow]`, `#[workflow(name = "billing.charge")]`,
//! `#[workflow(version = 2)]`, and both together.

use syn::parse::Parser;
use syn::{LitInt, LitStr};

use crate::ctxt::Ctxt;

const ACCEPTED: &str = "accepted arguments: `name = \"...\"` (the name runs are started by) and `version = N` (a number stored in the layout fingerprint)";

/// What the user asked for in the attribute.
#[derive(Default)]
pub struct Attrs {
    /// The name runs are stored and started under; the fn's name when absent.
    pub name: Option<LitStr>,
    /// Part of the layout fingerprint: bump it to mark stored runs as incompatible.
    pub version: Option<u32>,
}

/// Parses the attribute arguments, recording malformed ones in `cx`.
pub fn parse(cx: &Ctxt, args: proc_macro2::TokenStream) -> Attrs {
    let mut attrs = Attrs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let name: LitStr = meta.value()?.parse()?;
            if name.value().trim().is_empty() {
                return Err(meta.error("the workflow name must not be empty"));
            }
            attrs.name = Some(name);
            Ok(())
        } else if meta.path.is_ident("version") {
            let version: LitInt = meta.value()?.parse()?;
            attrs.version = Some(version.base10_parse()?);
            Ok(())
        } else {
            Err(meta.error(format!("unknown workflow argument; {ACCEPTED}")))
        }
    });
    if let Err(error) = parser.parse2(args) {
        cx.syn_error(error);
    }
    attrs
}
