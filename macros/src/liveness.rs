//! Computes the variables each state must hold: those live where the state starts, by the
//! usual backward dataflow over the control-flow graph, iterated to a fixed point because of
//! loops. Then checks that every transition can name what its target holds.

use std::collections::BTreeSet;

use crate::ctxt::Ctxt;
use crate::ids::{Id, VarId};
use crate::ir::{Body, StateKind};

/// Fills in `fields` of every state of `body`.
pub fn compute(cx: &Ctxt, body: &mut Body) {
    let live_in = solve(body);
    for state in &mut body.states {
        let mut fields: Vec<VarId> = live_in[state.node.index()].iter().copied().collect();
        if state.kind == StateKind::Start {
            // Only the inputs exist at the start; anything else is used before it is set,
            // which rustc reports better than we could.
            fields.retain(|&var| body.vars[var].is_param);
        }
        state.fields = fields;
    }
    check_transitions(cx, body);
}

fn solve(body: &Body) -> Vec<BTreeSet<VarId>> {
    let n = body.nodes.len();
    let mut live_in = vec![BTreeSet::new(); n];
    let mut changed = true;
    while changed {
        changed = false;
        // Reverse order converges fastest, since most edges go forward.
        for id in body.nodes.ids().rev() {
            let node = &body.nodes[id];
            let id = id.index();
            let mut live: BTreeSet<VarId> = node
                .succ
                .iter()
                .flat_map(|&s| live_in[s.index()].iter().copied())
                .collect();
            live.retain(|var| !node.defs.contains(var));
            live.extend(node.reads.iter().copied());
            if live != live_in[id] {
                live_in[id] = live;
                changed = true;
            }
        }
    }
    live_in
}

/// Every variable a target state holds must be visible by its own name where the transition
/// is written; a variable hidden there by another of the same name cannot be handed over.
fn check_transitions(cx: &Ctxt, body: &Body) {
    let mut reported = BTreeSet::new();
    for (target, site) in &body.transitions {
        for &var in &body.states[*target].fields {
            let ident = &body.vars[var].ident;
            let name = ident.to_string();
            let visible = site.scopes.lookup(&name) == Some(var) && !site.hidden.contains(&name);
            if !visible && reported.insert(var) {
                cx.error_spanned_by(
                    ident,
                    format!(
                        "`{name}` is still needed after an `.await`, but another variable named `{name}` hides it there; rename one of the two"
                    ),
                );
            }
        }
    }
}
