//! The last pass: writes the generated code from the lowered body. A unit struct named after
//! the workflow fn, its `cairn::Workflow` impl, and inside `drive` the state machine:
//!
//! ```text
//! async fn research(ctx: &mut Context, __start: Start<String>) -> Result<Report, Error> {
//!     enum ResearchState<T_papers> {          // one variant per state, fields = live variables
//!         Start { topic: String },
//!         FetchPapers { papers: T_papers },
//!     }
//!     let __codec = Default::default();
//!     let mut __state = match __start { New(input) => Start { .. }, Resume(bytes) => decode };
//!     '__cairn: loop {
//!         match __state {
//!             ResearchState::Start { topic } => {
//!                 let papers = ctx.__task("fetch_papers", (topic,), ..).await?;
//!                 __state = ResearchState::FetchPapers { papers };
//!                 ctx.__checkpoint(&__codec, &__state).await; // committed before anything else runs
//!                 continue '__cairn;
//!             }
//!             ResearchState::FetchPapers { papers } => { .. return Ok(report); }
//!         }
//!         // storable checks: never run, spanned on the user's variables
//!     }
//! }
//! ```
//!
//! The enum is generic, one type parameter per variable whose type the user did not write, and
//! every state is built by assigning to `__state` inside the one fn body: rustc infers every
//! parameter from those assignments, so users write no more annotations than plain Rust needs.
//! Arms come in source order so that a variable's type is known before code that uses it.
//!
//! One file per part: [`machine`] (what every part derives from the body), [`state_enum`],
//! [`arms`], [`checks`], [`graph`], [`fingerprint`], and [`fallback`] for a body with errors.

mod arms;
mod checks;
mod fallback;
mod fingerprint;
mod graph;
mod machine;
mod state_enum;

pub use fallback::fallback;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ir::Body;
use crate::parse::attr::Attrs;
use crate::parse::signature::Signature;
use machine::Machine;

/// The generated code of a workflow whose passes found no error.
pub fn generate(
    attrs: &Attrs,
    sig: &Signature,
    body: &Body,
    events: &[crate::events::EventWait],
) -> TokenStream {
    let vis = &sig.vis;
    let ident = &sig.ident;
    let docs: Vec<_> = sig
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    let other_attrs = sig.attrs.iter().filter(|a| !a.path().is_ident("doc"));
    let name = workflow_name(attrs, sig);
    let input_ty = input_type(sig);
    let parameters = parameter_names(sig);
    let output_ty = &sig.output;
    let output = quote_spanned! {output_ty.span()=>
        <#output_ty as ::cairn::__private::WorkflowResult>::Output
    };
    let ctx = &sig.ctx;
    let ctx_ty = &sig.ctx_ty;
    let start = Ident::new("__start", Span::mixed_site());
    let driver_ctx = Ident::new("__ctx", Span::mixed_site());
    // Spanned on the return type, so that a type that is not a `Result` is reported there,
    // once.
    let into_outcome = quote_spanned! {output_ty.span()=>
        ::cairn::__private::WorkflowResult::into_outcome(#ident(#driver_ctx, #start).await)
    };

    let machine = Machine::new(sig, body);
    let version = attrs.version.unwrap_or(0);
    let fingerprint = fingerprint::fingerprint(&machine, &name, version);
    let legacy_fingerprint = fingerprint::legacy_fingerprint(&machine, &name, version);
    // Emitted only when written, so that the expansion of a workflow without it stays as short.
    let version_const = attrs
        .version
        .map(|version| quote!(const VERSION: u32 = #version;));
    let items = &body.items;
    let state_enum = machine.state_enum();
    let state_info = machine.state_info();
    let initial = machine.initial_state(&start);
    let arms = machine.arms();
    let graph = machine.graph(&name);
    // Only when there are some: a workflow without typed event waits expands as before.
    let events = crate::events::events_fn(events);
    let checks = machine.storable_checks();
    let state = machine.state_var();
    let codec = machine.codec_var();
    let doc = format!(
        " The durable workflow `{name}`: register it with `Runtime::builder().register({ident})` and start runs with `client.start({ident}, input)`."
    );

    quote! {
        #(#docs)*
        #separator
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident;

        impl ::cairn::Workflow for #ident {
            type Input = #input_ty;
            type Output = #output;
            const NAME: &'static str = #name;
            const FINGERPRINT: u64 = #fingerprint;
            const LEGACY_FINGERPRINT: ::core::option::Option<u64> =
                ::core::option::Option::Some(#legacy_fingerprint);
            const PARAMETERS: &'static [&'static str] = &[#(#parameters),*];
            #events
            #version_const

            #graph

            fn drive<'cairn>(
                #driver_ctx: &'cairn mut ::cairn::Context,
                #start: ::cairn::__private::Start<Self::Input>,
            ) -> ::cairn::__private::BoxFuture<
                'cairn,
                ::core::result::Result<Self::Output, ::std::string::String>,
            > {
                #(#other_attrs)*
                #[allow(unused_mut)]
                async fn #ident(#ctx: #ctx_ty, #start: ::cairn::__private::Start<#input_ty>) -> #output_ty {
                    #(#items)*
                    #state_enum
                    #state_info
                    let #codec = ::core::default::Default::default();
                    let mut #state = #initial;
                    '__cairn: loop {
                        match #state {
                            #(#arms)*
                        }
                        #checks
                    }
                }
                ::std::boxed::Box::pin(async move { #into_outcome })
            }
        }
    }
}

/// The parameters' names, for JSON inputs keyed by them; a pattern is named by its position.
fn parameter_names(sig: &Signature) -> Vec<String> {
    use syn::ext::IdentExt as _;
    let name = |(index, (pat, _)): (usize, &(syn::Pat, syn::Type))| match pat {
        syn::Pat::Ident(pat) => pat.ident.unraw().to_string(),
        _ => index.to_string(),
    };
    sig.inputs.iter().enumerate().map(name).collect()
}

/// The `Input` type of the workflow: `()`, the one input, or a tuple of them.
fn input_type(sig: &Signature) -> TokenStream {
    match sig.inputs.as_slice() {
        [] => quote!(()),
        [(_, ty)] => quote!(#ty),
        inputs => {
            let tys = inputs.iter().map(|(_, ty)| ty);
            quote!((#(#tys),*))
        }
    }
}

/// The name runs are stored and started under: the attribute's `name`, else the fn's.
fn workflow_name(attrs: &Attrs, sig: &Signature) -> String {
    attrs
        .name
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_else(|| sig.ident.to_string())
}
