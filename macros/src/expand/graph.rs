//! `fn graph()` of the `Workflow` impl: the states and the transitions between them as static
//! data, for tools that show where a run is without the user's code (`tests/graphs.rs`
//! renders it). A pure function of the lowered body: [`transitions`] walks the code of each
//! arm the way `arms.rs` writes it, and lists where it can go.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::Visit;

use super::machine::Machine;
use crate::find::{self, Sought};
use crate::ids::Id;
use crate::ir::*;
use crate::scope::JUMP_PLACEHOLDER;

impl Machine<'_> {
    /// `fn graph()` of the `Workflow` impl: the states and transitions as static data.
    pub fn graph(&self, name: &str) -> TokenStream {
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
        let mut edges: Vec<(usize, Option<usize>)> = transitions(self)
            .into_iter()
            .filter_map(|(from, to)| Some((index(from)?, to.and_then(index))))
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
}

/// Every transition the arms make, from the state of the arm to the next state, or to `None`
/// where the run ends (a `return`, also one inside a `match` on a step's outcome).
pub fn transitions(machine: &Machine) -> BTreeSet<(StateId, Option<StateId>)> {
    let mut walk = Walk {
        body: machine.body,
        from: StateId::START,
        edges: BTreeSet::new(),
    };
    for &state in &machine.states {
        walk.from = state;
        match machine.body.states[state].entry {
            Entry::Block { block, index } => walk.block_from(block, index),
            Entry::LoopHead(id) => walk.loop_head(id),
        }
    }
    walk.edges
}

/// The code of one arm, visited as `arms.rs` writes it.
struct Walk<'a> {
    body: &'a Body,
    /// The state whose arm is walked.
    from: StateId,
    edges: BTreeSet<(StateId, Option<StateId>)>,
}

impl Walk<'_> {
    fn to(&mut self, target: Option<StateId>) {
        self.edges.insert((self.from, target));
    }

    /// Statements `index..` of `block` and what follows its end.
    fn block_from(&mut self, block: BlockId, index: usize) {
        let block = &self.body.blocks[block];
        for stmt in &block.stmts[index..] {
            match stmt {
                Stmt::Plain { stmt, .. } => {
                    self.returns(stmt);
                    self.jumps(|finder| finder.visit_stmt(stmt));
                }
                Stmt::Await { stmt, state } => {
                    // A `match` on the outcome may return from an arm.
                    self.returns(stmt);
                    self.to(Some(*state));
                    return;
                }
                Stmt::Construct(construct) => {
                    self.construct(construct);
                    return;
                }
            }
        }
        match &block.tail {
            Some(Tail::Construct(construct)) => self.construct(construct),
            Some(Tail::Plain(expr)) => {
                self.jumps(|finder| finder.visit_expr(expr));
                if block.end_reachable {
                    self.deliver(&block.cont);
                }
            }
            None if block.end_reachable => self.deliver(&block.cont),
            None => {}
        }
    }

    fn construct(&mut self, construct: &Construct) {
        match construct {
            Construct::If {
                cond,
                then,
                els,
                cont,
            } => {
                self.jumps(|finder| finder.visit_expr(cond));
                self.block_from(*then, 0);
                match els {
                    Some(els) => self.block_from(*els, 0),
                    None => self.deliver(cont),
                }
            }
            Construct::Match { arms, .. } => {
                for (_, block) in arms {
                    self.block_from(*block, 0);
                }
            }
            Construct::Block(block) => self.block_from(*block, 0),
            Construct::Loop(id) => self.to(Some(self.body.loops[*id].head)),
        }
    }

    /// The head of a loop: the body, or the exit of a `while` or `for` loop.
    fn loop_head(&mut self, id: LoopId) {
        let loop_ = &self.body.loops[id];
        self.block_from(loop_.body, 0);
        if !matches!(loop_.kind, LoopKind::Loop) {
            self.deliver(&loop_.cont);
        }
    }

    fn deliver(&mut self, cont: &Cont) {
        if let Out::Return = cont.out {
            self.to(None);
        }
        if let Some(next) = cont.next {
            self.to(Some(next));
        }
    }

    /// Ordinary code can end the run with `return` (outside closures and async blocks).
    fn returns(&mut self, stmt: &syn::Stmt) {
        if find::contains(stmt, Sought::Return) {
            self.to(None);
        }
    }

    /// The jump placeholders in ordinary code: a `break` leaves its loop, a `continue` goes
    /// to the loop's head.
    fn jumps(&mut self, visit: impl FnOnce(&mut Placeholders)) {
        let mut placeholders = Placeholders(Vec::new());
        visit(&mut placeholders);
        for id in placeholders.0 {
            let jump = &self.body.jumps[id];
            let target = jump
                .target
                .expect("a jump without a loop is an error, and no code is generated after one");
            let loop_ = &self.body.loops[target];
            if jump.is_break {
                self.deliver(&loop_.cont);
            } else {
                self.to(Some(loop_.head));
            }
        }
    }
}

/// Collects the jump placeholders `__cairn_jump!(N)` in code, as `arms.rs` replaces them.
struct Placeholders(Vec<JumpId>);

impl<'ast> Visit<'ast> for Placeholders {
    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        if let syn::Expr::Macro(mac) = expr
            && mac.mac.path.is_ident(JUMP_PLACEHOLDER)
            && let Ok(id) = mac.mac.parse_body::<syn::LitInt>()
            && let Ok(id) = id.base10_parse::<usize>()
        {
            self.0.push(JumpId::new(id));
            return;
        }
        syn::visit::visit_expr(self, expr);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
