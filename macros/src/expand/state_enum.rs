//! The state enum of a workflow and what is derived from it: one variant per state, holding
//! the variables live there; its `StateInfo` impl (names for history and progress); and the
//! state a run starts from, built from the input or decoded from the stored bytes.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::machine::Machine;
use crate::ir::StateId;

impl Machine<'_> {
    pub fn state_enum(&self) -> TokenStream {
        let enum_name = &self.enum_name;
        let generics = self.generics();
        let variants = self.states.iter().map(|&id| {
            let state = &self.body.states[id];
            let name = &state.name;
            let doc = format!(" {}", state.doc);
            let fields = state.fields.iter().map(|&var| {
                let ident = &self.body.vars[var].ident;
                let ty = self.field_type(var);
                quote!(#ident: #ty)
            });
            quote! {
                #[doc = #doc]
                #name { #(#fields),* }
            }
        });
        let doc = format!(
            " The states of workflow `{}`: one after each `.await`, holding the variables live there, plus the transient states where paths meet. Only the states after an await are stored.",
            self.sig.ident
        );
        quote! {
            #[doc = #doc]
            #[derive(::cairn::__private::serde::Serialize, ::cairn::__private::serde::Deserialize)]
            #[serde(crate = "::cairn::__private::serde")]
            #[allow(non_camel_case_types)]
            enum #enum_name #generics {
                #(#variants,)*
            }
        }
    }

    pub fn state_info(&self) -> TokenStream {
        let enum_name = &self.enum_name;
        let generics = self.generics();
        let names = self.states.iter().map(|&id| {
            let name = &self.body.states[id].name;
            let text = name.to_string();
            quote!(Self::#name { .. } => #text,)
        });
        let steps = self.states.iter().filter_map(|&id| {
            let state = &self.body.states[id];
            let name = &state.name;
            let step = state.step.as_ref()?;
            Some(quote!(Self::#name { .. } => ::core::option::Option::Some(#step),))
        });
        quote! {
            impl #generics ::cairn::__private::StateInfo for #enum_name #generics {
                fn state_name(&self) -> &'static str {
                    match self {
                        #(#names)*
                    }
                }
                fn step_name(&self) -> ::core::option::Option<&'static str> {
                    match self {
                        #(#steps)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
        }
    }

    /// The state to run from: the start state built from the input, or the stored state.
    pub fn initial_state(&self, start: &Ident) -> TokenStream {
        let enum_name = &self.enum_name;
        let ctx = &self.sig.ctx;
        let input = Ident::new("__input", Span::mixed_site());
        let codec = self.codec_var();
        let bytes = Ident::new("__bytes", Span::mixed_site());
        let bind_input = match self.sig.inputs.as_slice() {
            [] => quote!(let () = #input;),
            [(pat, ty)] => quote!(let #pat: #ty = #input;),
            inputs => {
                let pats = inputs.iter().map(|(pat, _)| pat);
                let tys = inputs.iter().map(|(_, ty)| ty);
                quote!(let (#(#pats),*): (#(#tys),*) = #input;)
            }
        };
        let start_state = &self.body.states[StateId::START];
        let name = &start_state.name;
        let fields = start_state
            .fields
            .iter()
            .map(|&var| &self.body.vars[var].ident);
        quote! {
            match #start {
                ::cairn::__private::Start::New(#input) => {
                    #bind_input
                    #enum_name::#name { #(#fields),* }
                }
                ::cairn::__private::Start::Resume(#bytes) => #ctx.__decode_state(&#codec, &#bytes).await,
            }
        }
    }
}
