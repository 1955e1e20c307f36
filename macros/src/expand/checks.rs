//! Compile-time checks, spanned on the user's code, that every variable a state holds can be
//! stored: a clear error at the `let` instead of trait-bound noise at the attribute.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::machine::Machine;
use crate::ir::VarId;

impl Machine<'_> {
    /// Compile-time checks that every variable a state holds can be stored, each spanned on
    /// the variable's declaration. They sit after the `match` of the driver loop, whose arms
    /// all diverge, so they never run; rustc checks them once every type is inferred.
    pub fn storable_checks(&self) -> TokenStream {
        let state_var = self.state_var();
        let enum_name = &self.enum_name;
        let mut checked = BTreeSet::new();
        let arms = self.states.iter().filter_map(|&id| {
            let state = &self.body.states[id];
            let vars: Vec<VarId> = state
                .fields
                .iter()
                .copied()
                .filter(|&var| self.body.vars[var].check_span.is_some() && checked.insert(var))
                .collect();
            if vars.is_empty() {
                return None;
            }
            let name = &state.name;
            let bindings = vars.iter().map(|&var| &self.body.vars[var].ident);
            let checks = vars.iter().map(|&var| {
                let ident = &self.body.vars[var].ident;
                let span = self.body.vars[var]
                    .check_span
                    .unwrap_or_else(|| ident.span());
                // A step's result gets the messages about steps (return an owned value,
                // handle the error in place).
                let check = if self.body.vars[var].step_result {
                    quote_spanned!(span=> check_step_result)
                } else {
                    quote_spanned!(span=> check_stored)
                };
                quote_spanned! {span=>
                    ::cairn::__private::#check(
                        #ident,
                        (&&&::cairn::__private::Probe::of(#ident)).kind(),
                    );
                }
            });
            Some(quote! {
                #enum_name::#name { #(#bindings,)* .. } => {
                    #(#checks)*
                }
            })
        });
        let codec = self.codec_var();
        quote! {
            #[allow(unreachable_code)]
            {
                use ::cairn::__private::{
                    ProbeCodec as _, ProbeNoCodec as _, ProbeOther as _, ProbeReference as _,
                    ProbeSerializable as _,
                };
                ::cairn::__private::same_type(
                    &#codec,
                    &(&&::cairn::__private::Probe::of(&#state_var)).codec(),
                );
                match &#state_var {
                    #(#arms)*
                    _ => {}
                }
            }
        }
    }
}
