//! Lowers a block statement by statement: ordinary code stays as written (one node of the
//! control-flow graph), an await gets the stored state after it, and a construct holding
//! awaits gets the join state after it, where the rest of the block continues.

use std::collections::BTreeSet;

use syn::spanned::Spanned;
use syn::{Expr, Stmt as SynStmt};

use super::{Lowerer, line_suffix};
use crate::find::has_await;
use crate::ir::*;
use crate::names;
use crate::scope;

impl Lowerer<'_> {
    pub(super) fn lower_block(
        &mut self,
        block: syn::Block,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> BlockId {
        let end_span = block.brace_token.span.close();
        let id = self.body.blocks.push(Block {
            stmts: Vec::new(),
            tail: None,
            cont: cont.clone(),
            end_reachable: true,
        });
        self.scopes.push();

        let mut stmts = block.stmts;
        let tail = match stmts.last() {
            Some(SynStmt::Expr(_, None)) => match stmts.pop() {
                Some(SynStmt::Expr(expr, None)) => Some(expr),
                _ => unreachable!(),
            },
            _ => None,
        };

        let mut out = Vec::new();
        let mut cur = cur;
        for stmt in stmts {
            let index = out.len();
            match stmt {
                SynStmt::Item(item) => self.body.items.push(item),
                SynStmt::Local(local)
                    if local
                        .init
                        .as_ref()
                        .is_some_and(|i| i.diverge.is_none() && is_await(&i.expr)) =>
                {
                    let init = local.init.as_ref().unwrap();
                    let reads = self.reads_of(&init.expr);
                    let vars = self.declare_pattern(&local.pat, None, false);
                    for &var in &vars {
                        self.body.vars[var].step_result = true;
                        // A temporary made by normalization: point at the `.await`.
                        if self.body.vars[var].ident.to_string().starts_with("__") {
                            let span = crate::await_expr::the_await(&init.expr)
                                .map_or_else(|| init.expr.span(), |a| a.await_token.span);
                            self.body.vars[var].check_span = Some(span);
                        }
                    }
                    let (state, next) = self.await_state(&init.expr, id, index, reads, vars, cur);
                    cur = Some(next);
                    out.push(Stmt::Await {
                        stmt: SynStmt::Local(local),
                        state,
                    });
                }
                SynStmt::Local(mut local)
                    if local
                        .init
                        .as_ref()
                        .is_some_and(|i| i.diverge.is_none() && is_construct(&i.expr)) =>
                {
                    let init = local.init.take().unwrap();
                    let vars = self.pattern_vars(&local.pat, None, false);
                    let pat = local.pat.clone();
                    let (construct, next) = self.construct_then_join(
                        *init.expr,
                        Out::Bind {
                            pat: Box::new(pat),
                            vars: vars.clone(),
                        },
                        id,
                        index,
                        cur,
                        Some(&vars),
                    );
                    cur = next;
                    out.push(Stmt::Construct(construct));
                }
                SynStmt::Expr(expr, semi) if is_await(&expr) => {
                    let reads = self.reads_of(&expr);
                    let (state, next) = self.await_state(&expr, id, index, reads, Vec::new(), cur);
                    cur = Some(next);
                    out.push(Stmt::Await {
                        stmt: SynStmt::Expr(expr, semi),
                        state,
                    });
                }
                SynStmt::Expr(expr, _) if is_construct(&expr) => {
                    let (construct, next) =
                        self.construct_then_join(expr, Out::Discard, id, index, cur, None);
                    cur = next;
                    out.push(Stmt::Construct(construct));
                }
                plain => {
                    let (stmt, assigns, next) = self.plain(plain, cur);
                    cur = next;
                    out.push(Stmt::Plain { stmt, assigns });
                }
            }
        }

        let tail = match tail {
            Some(expr) if is_construct(&expr) => {
                let construct = self.construct(expr, cont, cur);
                Some(Tail::Construct(Box::new(construct)))
            }
            Some(mut expr) => {
                self.check_no_await(&expr);
                let usage = scope::analyze_expr(&mut expr, &self.scopes, self.body.jumps.next_id());
                let node = self.node(usage.reads, BTreeSet::new());
                self.edge(cur, node);
                let site = self.site(expr.span(), Vec::new());
                for jump in usage.jumps {
                    self.jump(jump, node, &site.scopes);
                }
                if diverges_expr(&expr) {
                    self.body.blocks[id].end_reachable = false;
                } else {
                    self.deliver(&cont, Some(node), end_span);
                }
                Some(Tail::Plain(Box::new(expr)))
            }
            None if cur.is_none() => {
                self.body.blocks[id].end_reachable = false;
                None
            }
            None => {
                self.deliver(&cont, cur, end_span);
                None
            }
        };

        self.scopes.pop();
        let block = &mut self.body.blocks[id];
        block.stmts = out;
        block.tail = tail;
        id
    }

    /// Ordinary code: one node, plus the jumps out of it.
    pub(super) fn plain(
        &mut self,
        mut stmt: SynStmt,
        cur: Option<NodeId>,
    ) -> (SynStmt, BTreeSet<VarId>, Option<NodeId>) {
        self.check_no_await(&stmt);
        let usage = scope::analyze_stmt(&mut stmt, &self.scopes, self.body.jumps.next_id());
        let mut defs = BTreeSet::new();
        match &stmt {
            SynStmt::Local(local) => {
                let ty = None;
                defs.extend(self.declare_pattern(&local.pat, ty, false));
            }
            SynStmt::Expr(Expr::Assign(assign), _) => {
                if let Expr::Path(path) = &*assign.left
                    && let Some(ident) = path.path.get_ident()
                    && let Some(var) = self.scopes.lookup(&ident.to_string())
                {
                    defs.insert(var);
                }
            }
            _ => {}
        }
        let node = self.node(usage.reads, defs);
        self.edge(cur, node);
        let scopes = self.scopes.clone();
        for jump in usage.jumps {
            self.jump(jump, node, &scopes);
        }
        let next = if diverges(&stmt) { None } else { Some(node) };
        (stmt, usage.assigns, next)
    }

    /// The node of an await, and the stored state after it.
    pub(super) fn await_state(
        &mut self,
        awaited: &Expr,
        block: BlockId,
        index: usize,
        reads: BTreeSet<VarId>,
        vars: Vec<VarId>,
        cur: Option<NodeId>,
    ) -> (StateId, NodeId) {
        let node = self.node(reads, vars.into_iter().collect());
        self.edge(cur, node);
        let step = names::step_name(awaited, self.ctx);
        let name = step.as_deref().map(names::pascal).unwrap_or_default();
        let doc = match &step {
            Some(step) => format!("After step `{step}`{}.", line_suffix(awaited.span())),
            None => format!("After the await{}.", line_suffix(awaited.span())),
        };
        let state = self.new_state(
            Some(&name),
            StateKind::Await,
            step,
            doc,
            Entry::Block {
                block,
                index: index + 1,
            },
            None,
        );
        let point = self.state_node(state);
        self.edge(Some(node), point);
        let site = self.site(awaited.span(), Vec::new());
        self.body.transitions.push((state, site));
        (state, point)
    }

    /// A construct in statement or `let` position, and the join state after it.
    pub(super) fn construct_then_join(
        &mut self,
        expr: Expr,
        out: Out,
        block: BlockId,
        index: usize,
        cur: Option<NodeId>,
        bound: Option<&[VarId]>,
    ) -> (Construct, Option<NodeId>) {
        let (prefix, what) = match &expr {
            Expr::If(_) => ("AfterIf", "the branches of the `if`"),
            Expr::Match(_) => ("AfterMatch", "the arms of the `match`"),
            Expr::Block(_) => ("AfterBlock", "the block"),
            _ => ("", "the loop"),
        };
        let doc = format!("After {what}{}. Not stored.", line_suffix(expr.span()));
        // Named once the construct is lowered: after a loop, the name follows its head's.
        let join = self.new_state(
            None,
            StateKind::Join,
            None,
            doc,
            Entry::Block {
                block,
                index: index + 1,
            },
            None,
        );
        let construct = self.construct(
            expr,
            Cont {
                out,
                next: Some(join),
            },
            cur,
        );
        let name = match &construct {
            Construct::Loop(id) => {
                format!("After{}", self.body.states[self.body.loops[*id].head].name)
            }
            _ => prefix.to_owned(),
        };
        self.body.states[join].name = self.unique_name(&name);
        if let Some(vars) = bound {
            self.declare(vars);
        }
        self.place(join);
        (construct, Some(self.state_node(join)))
    }
}

/// `FUTURE.await`, `FUTURE.await?`, or another form that consumes the outcome in place (see
/// [`await_expr`](crate::await_expr)).
fn is_await(expr: &Expr) -> bool {
    crate::await_expr::is_await(expr)
}

/// A control-flow construct with an await inside.
fn is_construct(expr: &Expr) -> bool {
    let construct = match expr {
        Expr::If(_) | Expr::Match(_) | Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => true,
        Expr::Block(block) => block.label.is_none(),
        _ => false,
    };
    construct && has_await(expr)
}

/// Whether the statement never completes normally: the code after it is not reached from it.
fn diverges(stmt: &SynStmt) -> bool {
    match stmt {
        SynStmt::Expr(expr, _) => diverges_expr(expr),
        _ => false,
    }
}

fn diverges_expr(expr: &Expr) -> bool {
    match expr {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(mac) => mac.mac.path.is_ident(scope::JUMP_PLACEHOLDER),
        _ => false,
    }
}
