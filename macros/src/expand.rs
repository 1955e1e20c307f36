//! Writes the generated code: a unit struct named after the workflow fn, its
//! `cairn::Workflow` impl, and inside `drive` the state machine:
//!
//! ```text
//! async fn research(ctx: &mut Context, __start: Start<String>) -> Result<Report, Error> {
//!     enum ResearchState<T_papers> {          // one variant per state, fields = live variables
//!         Start { topic: String },
//!         FetchPapers { papers: T_papers },
//!     }
//!     let mut __state = match __start { New(input) => Start { .. }, Resume(bytes) => decode };
//!     '__cairn: loop {
//!         match __state {
//!             ResearchState::Start { topic } => {
//!                 let papers = ctx.step("fetch_papers", fetch_papers(topic)).await?;
//!                 __state = ResearchState::FetchPapers { papers };
//!                 ctx.__checkpoint(&__state).await;   // committed before anything else runs
//!                 continue '__cairn;
//!             }
//!             ResearchState::FetchPapers { papers } => { .. return Ok(report); }
//!         }
//!     }
//! }
//! ```
//!
//! The enum is generic, one type parameter per variable whose type the user did not write, and
//! every state is built by assigning to `__state` inside the one fn body: rustc infers every
//! parameter from those assignments, so users write no more annotations than plain Rust needs.
//! Arms come in source order so that a variable's type is known before code that uses it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, ItemFn};

use crate::attr::{self, Attrs};
use crate::ctxt::Ctxt;
use crate::find::{self, Sought};
use crate::ids::Id;
use crate::ir::*;
use crate::scope::JUMP_PLACEHOLDER;
use crate::signature::{self, Signature};
use crate::{liveness, lower, names, normalize};

/// The whole expansion of `#[workflow(args)] item`.
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            return syn::Error::new(
                error.span(),
                "#[workflow] goes on an `async fn`: `async fn name(ctx: &mut Context, input: I) -> Result<T, E>`",
            )
            .to_compile_error();
        }
    };
    let cx = Ctxt::default();
    let attrs = attr::parse(&cx, args);
    let sig = signature::parse(&cx, &item);
    // With a sound signature, the fallback can still implement `Workflow`.
    let sound_signature = sig.as_ref().filter(|_| cx.is_ok());
    let expanded = sig.as_ref().and_then(|sig| {
        let body = normalize::normalize(&cx, &sig.ctx, (*item.block).clone());
        let mut body = lower::lower(&cx, sig, body);
        if cx.is_ok() {
            liveness::compute(&cx, &mut body);
        }
        cx.is_ok().then(|| generate(&attrs, sig, &body))
    });
    match cx.into_compile_errors() {
        None => expanded.unwrap_or_default(),
        Some(errors) => fallback(&item, errors, sound_signature.map(|sig| (sig, &attrs))),
    }
}

/// On error: the errors, the unit struct, so that uses of the workflow elsewhere do not add
/// "cannot find value" noise to the real problem, and the fn under another name, so that its
/// imports count as used and rustc still checks the rest of its body. When the signature is
/// sound (the error is in the body), the struct also implements `Workflow`, with a driver that
/// cannot run, so that `register(wf)`, `client.start(wf, input)` and `client.wait(wf, run)`
/// add no "`wf: Workflow` is not satisfied" of their own (the scheme of thiserror's
/// `fallback.rs`).
fn fallback(
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
    let name = attrs
        .name
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_else(|| ident.to_string());
    let input_ty = input_type(sig);
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

fn generate(attrs: &Attrs, sig: &Signature, body: &Body) -> TokenStream {
    let vis = &sig.vis;
    let ident = &sig.ident;
    let docs: Vec<_> = sig
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    let other_attrs = sig.attrs.iter().filter(|a| !a.path().is_ident("doc"));
    let name = attrs
        .name
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_else(|| ident.to_string());
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
    let fingerprint = machine.fingerprint(&name, attrs.version.unwrap_or(0));
    let items = &body.items;
    let state_enum = machine.state_enum();
    let state_info = machine.state_info();
    let initial = machine.initial_state(&start);
    let arms = machine.arms();
    let graph = machine.graph(&name);
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
            const PARAMETERS: &'static [&'static str] = &[#(#parameters),*];

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

/// What the code generation needs, derived once from the lowered body.
struct Machine<'a> {
    sig: &'a Signature,
    body: &'a Body,
    enum_name: Ident,
    /// States in arm order, without those no transition reaches.
    states: Vec<StateId>,
    /// The type parameter of each variable whose type is inferred.
    type_params: Table<VarId, Option<Ident>>,
    /// The arm being written, and the transitions written so far (`None`: the run ends).
    current: Cell<StateId>,
    edges: RefCell<BTreeSet<(StateId, Option<StateId>)>>,
}

impl<'a> Machine<'a> {
    fn new(sig: &'a Signature, body: &'a Body) -> Self {
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
            current: Cell::new(StateId::START),
            edges: RefCell::new(BTreeSet::new()),
        }
    }

    fn state_var(&self) -> Ident {
        Ident::new("__state", Span::mixed_site())
    }

    fn codec_var(&self) -> Ident {
        Ident::new("__codec", Span::mixed_site())
    }

    fn generics(&self) -> TokenStream {
        let params = self.type_params.iter().flatten();
        let params: Vec<_> = params.collect();
        if params.is_empty() {
            quote!()
        } else {
            quote!(<#(#params),*>)
        }
    }

    fn field_type(&self, var: VarId) -> TokenStream {
        match (&self.body.vars[var].ty, &self.type_params[var]) {
            (Some(ty), _) => quote!(#ty),
            (None, Some(param)) => quote!(#param),
            (None, None) => quote!(()),
        }
    }

    fn state_enum(&self) -> TokenStream {
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

    fn state_info(&self) -> TokenStream {
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
    fn initial_state(&self, start: &Ident) -> TokenStream {
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

    fn arms(&self) -> Vec<TokenStream> {
        self.states
            .iter()
            .map(|&id| {
                let state = &self.body.states[id];
                self.current.set(id);
                let mut emitter = Emitter {
                    machine: self,
                    assigned: BTreeSet::new(),
                };
                let code = match state.entry {
                    Entry::Block { block, index } => emitter.block_from(block, index),
                    Entry::LoopHead(id) => emitter.loop_head(id),
                };
                let declarations = emitter.declarations(state);
                let enum_name = &self.enum_name;
                let name = &state.name;
                let fields = state.fields.iter().map(|&var| {
                    let var = &self.body.vars[var];
                    let ident = &var.ident;
                    if var.mutable {
                        quote!(mut #ident)
                    } else {
                        quote!(#ident)
                    }
                });
                quote! {
                    #enum_name::#name { #(#fields),* } => {
                        #declarations
                        #code
                    }
                }
            })
            .collect()
    }

    /// Compile-time checks that every variable a state holds can be stored, each spanned on
    /// the variable's declaration. They sit after the `match` of the driver loop, whose arms
    /// all diverge, so they never run; rustc checks them once every type is inferred.
    fn storable_checks(&self) -> TokenStream {
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

    /// `__state = NextState { live variables };` then commit (stored states) and go on.
    fn transition(&self, target: StateId) -> TokenStream {
        self.edges
            .borrow_mut()
            .insert((self.current.get(), Some(target)));
        let state = &self.body.states[target];
        let enum_name = &self.enum_name;
        let name = &state.name;
        let fields = state.fields.iter().map(|&var| &self.body.vars[var].ident);
        let state_var = self.state_var();
        let ctx = &self.sig.ctx;
        let codec = self.codec_var();
        let commit = state
            .is_stored()
            .then(|| quote!(#ctx.__checkpoint(&#codec, &#state_var).await;));
        quote! {
            #state_var = #enum_name::#name { #(#fields),* };
            #commit
            continue '__cairn;
        }
    }

    /// Records that the run can end in the arm being written.
    fn ends_here(&self) {
        self.edges.borrow_mut().insert((self.current.get(), None));
    }

    /// `fn graph()` of the `Workflow` impl: the states and transitions as static data.
    fn graph(&self, name: &str) -> TokenStream {
        let index = |id: StateId| self.states.iter().position(|&s| s == id);
        let states = self.states.iter().map(|&id| {
            let state = &self.body.states[id];
            let name = state.name.to_string();
            let kind = match state.kind {
                StateKind::Start => quote!(Start),
                StateKind::Await => quote!(Stored),
                StateKind::Join => quote!(Join),
                StateKind::LoopHead => quote!(LoopHead),
            };
            let step = match &state.step {
                Some(step) => quote!(::core::option::Option::Some(#step)),
                None => quote!(::core::option::Option::None),
            };
            let fields = state
                .fields
                .iter()
                .map(|&var| self.body.vars[var].ident.to_string());
            quote! {
                ::cairn::StateNode {
                    name: #name,
                    kind: ::cairn::StateKind::#kind,
                    step: #step,
                    fields: &[#(#fields),*],
                }
            }
        });
        // In arm order, the run's end last.
        let mut edges: Vec<(usize, Option<usize>)> = self
            .edges
            .borrow()
            .iter()
            .filter_map(|&(from, to)| Some((index(from)?, to.and_then(index))))
            .collect();
        edges.sort_by_key(|&(from, to)| (from, to.unwrap_or(usize::MAX)));
        let edges = edges.into_iter().map(|(from, to)| {
            let to = match to {
                Some(to) => quote!(::core::option::Option::Some(#to)),
                None => quote!(::core::option::Option::None),
            };
            quote!(::cairn::StateEdge { from: #from, to: #to })
        });
        quote! {
            fn graph() -> &'static ::cairn::StateGraph {
                static GRAPH: ::cairn::StateGraph = ::cairn::StateGraph {
                    workflow: #name,
                    states: &[#(#states),*],
                    edges: &[#(#edges),*],
                };
                &GRAPH
            }
        }
    }

    /// `fingerprint` of the state layout: a change to the states, their fields or the types
    /// written for them makes stored runs incompatible, which the runtime reports by name.
    fn fingerprint(&self, name: &str, version: u32) -> u64 {
        let mut layout = format!("cairn-layout-1;{name};{version};");
        for &id in &self.states {
            let state = &self.body.states[id];
            layout.push_str(&format!("{}{{", state.name));
            for &var in &state.fields {
                let ty = match &self.body.vars[var].ty {
                    Some(ty) => quote!(#ty).to_string(),
                    None => "_".to_owned(),
                };
                layout.push_str(&format!("{}:{ty},", self.body.vars[var].ident));
            }
            layout.push('}');
        }
        fnv1a(layout.as_bytes())
    }
}

/// Writes the code of one arm.
struct Emitter<'m, 'a> {
    machine: &'m Machine<'a>,
    /// Variables assigned with `=` in the code written so far.
    assigned: BTreeSet<VarId>,
}

impl Emitter<'_, '_> {
    fn body(&self) -> &Body {
        self.machine.body
    }

    /// Statements `index..` of `block` and what follows its end.
    fn block_from(&mut self, block_id: BlockId, index: usize) -> TokenStream {
        let body = self.machine.body;
        let block = &body.blocks[block_id];
        let mut out = TokenStream::new();
        for stmt in &block.stmts[index..] {
            match stmt {
                Stmt::Plain { stmt, assigns } => {
                    self.assigned.extend(assigns.iter().copied());
                    if returns(stmt) {
                        self.machine.ends_here();
                    }
                    let mut stmt = stmt.clone();
                    self.replace_jumps().visit_stmt_mut(&mut stmt);
                    out.extend(quote!(#stmt));
                }
                Stmt::Await { stmt, state } => {
                    // A `match` on the outcome may return from an arm.
                    if returns(stmt) {
                        self.machine.ends_here();
                    }
                    out.extend(quote!(#stmt));
                    out.extend(self.machine.transition(*state));
                    return out;
                }
                Stmt::Construct(construct) => {
                    out.extend(self.construct(construct));
                    return out;
                }
            }
        }
        match &block.tail {
            Some(Tail::Construct(construct)) => out.extend(self.construct(construct)),
            Some(Tail::Plain(expr)) => {
                let mut expr = (**expr).clone();
                self.replace_jumps().visit_expr_mut(&mut expr);
                if block.end_reachable {
                    out.extend(self.deliver(&block.cont, Some(quote!(#expr))));
                } else {
                    out.extend(quote!(#expr;));
                }
            }
            None if block.end_reachable => out.extend(self.deliver(&block.cont, None)),
            None => {}
        }
        out
    }

    fn construct(&mut self, construct: &Construct) -> TokenStream {
        match construct {
            Construct::If {
                cond,
                then,
                els,
                cont,
            } => {
                let mut cond = (**cond).clone();
                self.replace_jumps().visit_expr_mut(&mut cond);
                let then = self.block_from(*then, 0);
                let els = match els {
                    Ok(els) => self.block_from(*els, 0),
                    Err(_) => self.deliver(cont, None),
                };
                quote!(if #cond { #then } else { #els })
            }
            Construct::Match { expr, arms } => {
                let arms: Vec<_> = arms
                    .iter()
                    .map(|(arm, block)| {
                        let attrs = &arm.attrs;
                        let pat = &arm.pat;
                        let guard = arm
                            .guard
                            .as_ref()
                            .map(|(if_token, guard)| quote!(#if_token #guard));
                        let code = self.block_from(*block, 0);
                        quote!(#(#attrs)* #pat #guard => { #code })
                    })
                    .collect();
                quote!(match #expr { #(#arms)* })
            }
            Construct::Block(block) => {
                let code = self.block_from(*block, 0);
                quote!({ #code })
            }
            Construct::Loop(id) => {
                let loop_ = &self.body().loops[*id];
                let enter = self.machine.transition(loop_.head);
                match &loop_.kind {
                    LoopKind::For { iter, expr, .. } => {
                        let iter = &self.body().vars[*iter].ident;
                        // The items are stored once; the state keeps a small handle. The
                        // probe says from the source's type how (see `loop_source` in the
                        // runtime). All of the call is spanned on the loop's expression, where
                        // a source that cannot be stored is reported.
                        let span = expr.span();
                        let ctx = Ident::new(&self.machine.sig.ctx.to_string(), span);
                        // Spanned on the user's expression (not `mixed_site`), so that rustc
                        // reports a refused source there once, and not a second time at the
                        // attribute. Neither name can capture the user's: the expression is
                        // evaluated before both exist.
                        let source = Ident::new("__cairn_source", span);
                        let kind = Ident::new("__cairn_kind", span);
                        // ` at line N`, for the run-time error of an iterator without an end.
                        let at = match span.start().line {
                            0 => String::new(),
                            line => format!(" at line {line}"),
                        };
                        let at = syn::LitStr::new(&at, span);
                        let into_iter = quote_spanned! {span=>
                            {
                                #[allow(unused_imports)]
                                use ::cairn::__private::{
                                    ProbeBorrowed as _, ProbeBorrowedCollection as _,
                                    ProbeCollected as _, ProbeEndless as _, ProbeKnown as _,
                                    ProbeNotIterable as _, ProbeUnstorable as _,
                                };
                                let #source = #expr;
                                let #kind = (&&&&&&&::cairn::__private::LoopProbe::of(&#source)).loop_kind();
                                #ctx.__durable_iter(#source, #kind, #at).await
                            }
                        };
                        quote! {
                            let mut #iter = #into_iter;
                            #enter
                        }
                    }
                    _ => enter,
                }
            }
        }
    }

    /// The code at the head of a loop: test, then the body or the exit.
    fn loop_head(&mut self, id: LoopId) -> TokenStream {
        let body = self.machine.body;
        let loop_ = &body.loops[id];
        let code = self.block_from(loop_.body, 0);
        match &loop_.kind {
            LoopKind::Loop => code,
            LoopKind::While(cond) => {
                let exit = self.deliver(&loop_.cont, None);
                quote!(if #cond { #code } else { #exit })
            }
            LoopKind::For { pat, iter, .. } => {
                let exit = self.deliver(&loop_.cont, None);
                let iter = &body.vars[*iter].ident;
                let ctx = &self.machine.sig.ctx;
                quote! {
                    match #ctx.__iter_next(&mut #iter).await {
                        ::core::option::Option::Some(#pat) => { #code }
                        ::core::option::Option::None => { #exit }
                    }
                }
            }
        }
    }

    /// Hands `value` (or `()`) to `cont.out`, then goes to `cont.next`.
    fn deliver(&self, cont: &Cont, value: Option<TokenStream>) -> TokenStream {
        let unit = || quote!(());
        let hand_over = match (&cont.out, value) {
            (Out::Discard, None) => quote!(),
            (Out::Discard, Some(value)) => quote!(#value;),
            (Out::Bind { pat, .. }, value) => {
                let value = value.unwrap_or_else(unit);
                quote!(let #pat = #value;)
            }
            (Out::Return, value) => {
                self.machine.ends_here();
                let value = value.unwrap_or_else(unit);
                quote!(return #value;)
            }
        };
        let next = cont.next.map(|next| self.machine.transition(next));
        quote!(#hand_over #next)
    }

    /// Replaces `__cairn_jump!(N)` placeholders with the transition of jump N.
    fn replace_jumps(&self) -> JumpReplacer<'_, '_, '_> {
        JumpReplacer { emitter: self }
    }

    /// `let x;` for variables declared before the state that its code assigns without
    /// reading first: they are not live, so the state does not hold them.
    fn declarations(&self, state: &State) -> TokenStream {
        let visible = state.scopes.visible();
        let decls = visible
            .into_iter()
            .filter(|var| self.assigned.contains(var) && !state.fields.contains(var))
            .map(|var| {
                let var = &self.body().vars[var];
                let ident = &var.ident;
                let mutability = var.mutable.then(|| quote!(mut));
                match &var.ty {
                    Some(ty) => quote!(let #mutability #ident: #ty;),
                    None => quote!(let #mutability #ident;),
                }
            });
        quote!(#(#decls)*)
    }
}

struct JumpReplacer<'e, 'm, 'a> {
    emitter: &'e Emitter<'m, 'a>,
}

impl VisitMut for JumpReplacer<'_, '_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Macro(mac) = expr
            && mac.mac.path.is_ident(JUMP_PLACEHOLDER)
            && let Ok(id) = mac.mac.parse_body::<syn::LitInt>()
            && let Ok(id) = id.base10_parse::<usize>()
        {
            let body = self.emitter.body();
            let jump = &body.jumps[JumpId::new(id)];
            let target = jump
                .target
                .expect("a jump without a loop is an error, and no code is generated after one");
            let loop_ = &body.loops[target];
            let span = jump.site.span;
            let code = if jump.is_break {
                let value = jump.value.as_ref().map(|v| quote!(#v));
                self.emitter.deliver(&loop_.cont, value)
            } else {
                self.emitter.machine.transition(loop_.head)
            };
            *expr = Expr::Verbatim(quote_spanned!(span=> { #code }));
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Whether ordinary code can return from the workflow (outside closures and async blocks).
fn returns(stmt: &syn::Stmt) -> bool {
    find::contains(stmt, Sought::Return)
}

/// FNV-1a: small, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
