//! Where a path through the code ends: a value delivered to a construct's continuation (a
//! `let`, the workflow's return, or nothing) and a transition to the next state, or a
//! `break`/`continue` from ordinary code to a lowered loop. Each end is recorded as a
//! transition site, whose visible names the liveness pass checks.

use std::collections::BTreeSet;

use proc_macro2::Span;

use super::Lowerer;
use crate::ir::*;
use crate::scope::{self, Scopes};

impl Lowerer<'_> {
    /// A `break` or `continue` in ordinary code, going to a lowered loop.
    pub(super) fn jump(&mut self, jump: scope::Jump, from: NodeId, scopes: &Scopes) {
        let target = match &jump.label {
            Some(label) => self.loop_stack.iter().rev().copied().find(|&id| {
                self.body.loops[id]
                    .label
                    .as_ref()
                    .is_some_and(|l| l.name.ident == label.ident)
            }),
            None => self.loop_stack.last().copied(),
        };
        let Some(target) = target else {
            self.cx.syn_error(syn::Error::new(
                jump.span,
                "this `break` or `continue` has no loop to go to in the workflow",
            ));
            self.body.jumps.push(Jump {
                target: None,
                is_break: jump.is_break,
                value: jump.value,
                site: Site {
                    scopes: scopes.clone(),
                    hidden: jump.inner_names,
                    span: jump.span,
                },
            });
            return;
        };
        let site = if jump.is_break {
            let cont = self.body.loops[target].cont.clone();
            self.deliver_with(&cont, Some(from), jump.span, scopes, &jump.inner_names)
        } else {
            let head = self.body.loops[target].head;
            let head_node = self.state_node(head);
            self.edge(Some(from), head_node);
            let site = Site {
                scopes: scopes.clone(),
                hidden: jump.inner_names.clone(),
                span: jump.span,
            };
            self.body.transitions.push((head, site.clone()));
            site
        };
        self.body.jumps.push(Jump {
            target: Some(target),
            is_break: jump.is_break,
            value: jump.value,
            site,
        });
    }

    /// Delivers a value to `cont.out` and goes to `cont.next`: the end of a path.
    pub(super) fn deliver(&mut self, cont: &Cont, from: Option<NodeId>, span: Span) -> Site {
        let scopes = self.scopes.clone();
        self.deliver_with(cont, from, span, &scopes, &[])
    }

    pub(super) fn deliver_with(
        &mut self,
        cont: &Cont,
        from: Option<NodeId>,
        span: Span,
        scopes: &Scopes,
        hidden: &[String],
    ) -> Site {
        let node = self.node(BTreeSet::new(), cont.out.vars().iter().copied().collect());
        self.edge(from, node);
        let mut scopes = scopes.clone();
        scopes.push();
        for &var in cont.out.vars() {
            scopes.declare(self.body.vars[var].ident.to_string(), var);
        }
        let site = Site {
            scopes,
            hidden: hidden.to_vec(),
            span,
        };
        if let Some(next) = cont.next {
            let next_node = self.state_node(next);
            self.edge(Some(node), next_node);
            if from.is_some() {
                self.body.transitions.push((next, site.clone()));
            }
        }
        site
    }
}
