//! What the code generation derives once from the lowered body: the states in the order of
//! their arms, the enum's name and a type parameter for every stored variable whose type the
//! user did not write. Every other part of `expand` reads it.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashSet;

use crate::ir::{Body, StateId, Table, VarId};
use crate::names;
use crate::parse::signature::Signature;

/// What the code generation needs, derived once from the lowered body.
pub struct Machine<'a> {
    pub sig: &'a Signature,
    pub body: &'a Body,
    /// `{Workflow}State`.
    pub enum_name: Ident,
    /// States in arm order, without those no transition reaches.
    pub states: Vec<StateId>,
    /// The type parameter of each variable whose type is inferred.
    type_params: Table<VarId, Option<Ident>>,
}

impl<'a> Machine<'a> {
    pub fn new(sig: &'a Signature, body: &'a Body) -> Self {
        let reached: HashSet<StateId> = body.transitions.iter().map(|(s, _)| *s).collect();
        let mut states: Vec<StateId> = body
            .states
            .ids()
            .filter(|s| *s == StateId::START || reached.contains(s))
            .collect();
        states.sort_by_key(|&s| body.states[s].order);

        let mut type_params: Table<VarId, Option<Ident>> = body.vars.iter().map(|_| None).collect();
        let mut taken = Vec::new();
        for &state in &states {
            for &var in &body.states[state].fields {
                let var_info = &body.vars[var];
                if var_info.ty.is_some() || type_params[var].is_some() {
                    continue;
                }
                let base = format!("T_{}", var_info.ident.to_string().trim_start_matches('_'));
                let mut name = base.clone();
                let mut n = 1;
                while taken.contains(&name) {
                    n += 1;
                    name = format!("{base}_{n}");
                }
                taken.push(name.clone());
                type_params[var] = Some(format_ident!("{}", name));
            }
        }
        let enum_name = format_ident!("{}State", names::pascal(&sig.ident.to_string()));
        Machine {
            sig,
            body,
            enum_name,
            states,
            type_params,
        }
    }

    /// The driver's variable holding the current state.
    pub fn state_var(&self) -> Ident {
        Ident::new("__state", Span::mixed_site())
    }

    /// The driver's variable that picks how stored states are encoded.
    pub fn codec_var(&self) -> Ident {
        Ident::new("__codec", Span::mixed_site())
    }

    /// `<T_a, T_b>`: the enum's type parameters, or nothing.
    pub fn generics(&self) -> TokenStream {
        let params = self.type_params.iter().flatten();
        let params: Vec<_> = params.collect();
        if params.is_empty() {
            quote!()
        } else {
            quote!(<#(#params),*>)
        }
    }

    /// The type of a state's field holding `var`: as written, or its type parameter.
    pub fn field_type(&self, var: VarId) -> TokenStream {
        match (&self.body.vars[var].ty, &self.type_params[var]) {
            (Some(ty), _) => quote!(#ty),
            (None, Some(param)) => quote!(#param),
            (None, None) => quote!(()),
        }
    }
}
