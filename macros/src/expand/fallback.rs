//! What the macro emits when it found errors: the errors themselves, plus enough of the
//! workflow that the rest of the user's crate keeps compiling without errors of its own (the
//! scheme of thiserror's `fallback.rs`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

use crate::normalize;
use crate::parse::attr::Attrs;
use crate::parse::signature::Signature;

/// On error: the errors, the unit struct, so that uses of the workflow elsewhere do not add
/// "cannot find value" noise to the real problem, and the fn under another name, so that its
/// imports count as used and rustc still checks the rest of its body. When the signature is
/// sound (the error is in the body), the struct also implements `Workflow`, with a driver that
/// cannot run, so that `register(wf)`, `client.start(wf, input)` and `client.wait(wf, run)`
/// add no "`wf: Workflow` is not satisfied" of their own (the scheme of thiserror's
/// `fallback.rs`).
pub fn fallback(
    item: &ItemFn,
    errors: TokenStream,
    sound_signature: Option<(&Signature, &Attrs)>,
) -> TokenStream {
    if item.sig.receiver().is_some() {
        // A method: no struct can stand in an `impl` block.
        return errors;
    }
    let vis = &item.vis;
    let ident = &item.sig.ident;
    let workflow_impl = sound_signature.map(|(sig, attrs)| fallback_impl(sig, attrs));
    let mut unexpanded = item.clone();
    unexpanded.sig.ident = format_ident!("__cairn_unexpanded_{}", ident);
    unexpanded.attrs.retain(|attr| attr.path().is_ident("doc"));
    if let Some(syn::FnArg::Typed(ctx)) = item.sig.inputs.first()
        && let syn::Pat::Ident(ctx) = &*ctx.pat
    {
        normalize::rewrite_task_calls(&ctx.ident, &mut unexpanded.block);
    }
    quote! {
        #errors
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident;
        #workflow_impl
        #[allow(dead_code, unused)]
        #unexpanded
    }
}

/// The `Workflow` impl of a workflow whose body did not compile: the types its uses need, and
/// a driver that is never built into a program (the crate does not compile).
fn fallback_impl(sig: &Signature, attrs: &Attrs) -> TokenStream {
    let ident = &sig.ident;
    let name = super::workflow_name(attrs, sig);
    let input_ty = super::input_type(sig);
    let output_ty = &sig.output;
    quote! {
        impl ::cairn::Workflow for #ident {
            type Input = #input_ty;
            type Output = <#output_ty as ::cairn::__private::WorkflowResult>::Output;
            const NAME: &'static str = #name;
            const FINGERPRINT: u64 = 0;

            fn drive<'cairn>(
                _: &'cairn mut ::cairn::Context,
                _: ::cairn::__private::Start<Self::Input>,
            ) -> ::cairn::__private::BoxFuture<
                'cairn,
                ::core::result::Result<Self::Output, ::std::string::String>,
            > {
                ::core::unreachable!("the workflow did not compile")
            }
        }
    }
}
