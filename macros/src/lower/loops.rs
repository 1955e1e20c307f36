//! Lowers a `loop`, `while` or `for` loop that holds awaits: a transient state at its head,
//! where the test runs, the body as a block that goes back to the head, and the exit to the
//! loop's continuation. A `for` loop's iterator becomes a variable of the workflow, stored
//! with the state, so that a resumed run goes on with the next item.

use std::collections::BTreeSet;

use proc_macro2::Span;
use quote::format_ident;
use syn::{Expr, Pat};

use super::{Lowerer, let_patterns, line_suffix};
use crate::ir::*;
use crate::names;
use crate::scope;

impl Lowerer<'_> {
    pub(super) fn lower_loop(
        &mut self,
        label: Option<syn::Label>,
        syntax: LoopSyntax,
        body: syn::Block,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> Construct {
        let id = self.body.loops.next_id();
        let span = body.brace_token.span.open();
        self.scopes.push();

        // A `for` loop's iterator is a variable of the workflow: it is part of the state.
        let (kind, head_name, what, init) = match syntax {
            LoopSyntax::For(pat, mut expr) => {
                let usage = scope::analyze_expr(&mut expr, &self.scopes, self.body.jumps.next_id());
                let name = match &*pat {
                    Pat::Ident(ident) => ident.ident.to_string(),
                    _ => "item".to_owned(),
                };
                let iter_ident =
                    format_ident!("__iter_{}", names::snake(&name), span = Span::mixed_site());
                let iter = self.new_var(iter_ident, true, None, false);
                self.body.vars[iter].check_span = None;
                self.declare(&[iter]);
                let init = self.node(usage.reads, [iter].into_iter().collect());
                self.edge(cur, init);
                let head_name = format!("For{}", names::pascal(&name));
                (
                    LoopKind::For { pat, iter, expr },
                    head_name,
                    "`for` loop",
                    Some(init),
                )
            }
            LoopSyntax::While(cond) => (
                LoopKind::While(cond),
                "While".to_owned(),
                "`while` loop",
                cur,
            ),
            LoopSyntax::Loop => (LoopKind::Loop, "Loop".to_owned(), "`loop`", cur),
        };
        let head = self.new_state(
            Some(&head_name),
            StateKind::LoopHead,
            None,
            format!("The head of the {what}{}. Not stored.", line_suffix(span)),
            Entry::LoopHead(id),
            None,
        );
        let head_node = self.state_node(head);
        self.edge(init, head_node);
        let entry_site = self.site(span, Vec::new());
        self.body.transitions.push((head, entry_site));

        // The body is the next block lowered (below).
        let body_block = self.body.blocks.next_id();
        self.body.loops.push(Loop {
            label,
            kind,
            body: body_block,
            head,
            cont: cont.clone(),
        });

        let mut reads = BTreeSet::new();
        let mut bound_pats: Vec<Pat> = Vec::new();
        match &mut self.body.loops[id].kind {
            LoopKind::For { pat, iter, .. } => {
                reads.insert(*iter);
                bound_pats.push((**pat).clone());
            }
            LoopKind::While(cond) => {
                let mut cond_copy = (**cond).clone();
                let usage =
                    scope::analyze_expr(&mut cond_copy, &self.scopes, self.body.jumps.next_id());
                reads = usage.reads;
                bound_pats.extend(let_patterns(&cond_copy).into_iter().cloned());
                **cond = cond_copy;
            }
            LoopKind::Loop => {}
        }
        let test = self.node(reads, BTreeSet::new());
        self.edge(Some(head_node), test);

        self.loop_stack.push(id);
        self.scopes.push();
        let mut bound = BTreeSet::new();
        for pat in &bound_pats {
            bound.extend(self.declare_pattern(pat, None, false));
        }
        let body_entry = self.node(BTreeSet::new(), bound);
        self.edge(Some(test), body_entry);
        let body = self.lower_block(
            body,
            Cont {
                out: Out::Discard,
                next: Some(head),
            },
            Some(body_entry),
        );
        self.scopes.pop();
        self.loop_stack.pop();
        debug_assert!(body == body_block);

        if !matches!(self.body.loops[id].kind, LoopKind::Loop) {
            self.deliver(&cont, Some(test), span);
        }
        self.scopes.pop();
        Construct::Loop(id)
    }
}

/// The three loops, as written.
pub(super) enum LoopSyntax {
    Loop,
    While(Box<Expr>),
    For(Box<Pat>, Box<Expr>),
}
