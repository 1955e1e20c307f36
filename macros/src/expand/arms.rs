//! The arms of the driver's `match`, one per state: the user's code from where the state
//! starts up to the next transition. A transition assigns the next state to `__state`,
//! commits it when it is stored, and goes round the driver loop again:
//!
//! ```text
//! ResearchState::FetchPapers { papers } => {
//!     let summary = ctx.__task("summarize", (papers,), ..).await?;
//!     __state = ResearchState::Summarize { summary };
//!     ctx.__checkpoint(&__codec, &__state).await;
//!     continue '__cairn;
//! }
//! ```
//!
//! Jumps out of ordinary code (`break`, `continue` to a loop with awaits) were left as
//! placeholders by the lowering; they become transitions here. `graph.rs` walks the same code
//! to list the transitions without writing them.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;

use super::machine::Machine;
use crate::ids::Id;
use crate::ir::*;
use crate::scope::JUMP_PLACEHOLDER;

impl Machine<'_> {
    /// The arms of the driver's `match`, in the order of `states`.
    pub fn arms(&self) -> Vec<TokenStream> {
        self.states
            .iter()
            .map(|&id| {
                let state = &self.body.states[id];
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

    /// `__state = NextState { live variables };` then commit (stored states) and go on.
    fn transition(&self, target: StateId) -> TokenStream {
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
                    let mut stmt = stmt.clone();
                    self.replace_jumps().visit_stmt_mut(&mut stmt);
                    out.extend(quote!(#stmt));
                }
                Stmt::Await { stmt, state } => {
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
                    Some(els) => self.block_from(*els, 0),
                    None => self.deliver(cont, None),
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
