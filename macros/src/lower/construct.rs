//! Lowers the constructs that hold awaits, other than loops: `if`, `match` and plain blocks.
//! Each branch is a block of its own whose end delivers to the construct's continuation.

use std::collections::BTreeSet;

use syn::{Expr, Stmt as SynStmt};

use super::loops::LoopSyntax;
use super::{Lowerer, let_patterns};
use crate::ir::*;
use crate::scope;

impl Lowerer<'_> {
    pub(super) fn construct(&mut self, expr: Expr, cont: Cont, cur: Option<NodeId>) -> Construct {
        match expr {
            Expr::If(if_) => self.lower_if(if_, cont, cur),
            Expr::Match(match_) => self.lower_match(match_, cont, cur),
            Expr::Block(block) => Construct::Block(self.lower_block(block.block, cont, cur)),
            Expr::Loop(loop_) => {
                self.lower_loop(loop_.label, LoopSyntax::Loop, loop_.body, cont, cur)
            }
            Expr::While(while_) => self.lower_loop(
                while_.label,
                LoopSyntax::While(while_.cond),
                while_.body,
                cont,
                cur,
            ),
            Expr::ForLoop(for_) => self.lower_loop(
                for_.label,
                LoopSyntax::For(for_.pat, for_.expr),
                for_.body,
                cont,
                cur,
            ),
            other => {
                self.cx
                    .error_spanned_by(&other, "cairn cannot lower this expression");
                Construct::Block(self.lower_block(syn::parse_quote!({}), cont, cur))
            }
        }
    }

    pub(super) fn lower_if(
        &mut self,
        mut if_: syn::ExprIf,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> Construct {
        let usage = scope::analyze_expr(&mut if_.cond, &self.scopes, self.body.jumps.next_id());
        let cond = self.node(usage.reads, BTreeSet::new());
        self.edge(cur, cond);
        let scopes = self.scopes.clone();
        for jump in usage.jumps {
            self.jump(jump, cond, &scopes);
        }

        self.scopes.push();
        let mut bound = Vec::new();
        for pat in let_patterns(&if_.cond) {
            bound.extend(self.declare_pattern(pat, None, false));
        }
        let then_entry = self.node(BTreeSet::new(), bound.into_iter().collect());
        self.edge(Some(cond), then_entry);
        let then = self.lower_block(if_.then_branch, cont.clone(), Some(then_entry));
        self.scopes.pop();

        let els = match if_.else_branch {
            Some((_, else_branch)) => {
                let block = match *else_branch {
                    Expr::Block(block) => block.block,
                    other => syn::Block {
                        brace_token: Default::default(),
                        stmts: vec![SynStmt::Expr(other, None)],
                    },
                };
                Some(self.lower_block(block, cont.clone(), Some(cond)))
            }
            None => {
                self.deliver(&cont, Some(cond), if_.if_token.span);
                None
            }
        };
        Construct::If {
            cond: if_.cond,
            then,
            els,
            cont,
        }
    }

    pub(super) fn lower_match(
        &mut self,
        mut match_: syn::ExprMatch,
        cont: Cont,
        cur: Option<NodeId>,
    ) -> Construct {
        let usage = scope::analyze_expr(&mut match_.expr, &self.scopes, self.body.jumps.next_id());
        let scrutinee = self.node(usage.reads, BTreeSet::new());
        self.edge(cur, scrutinee);
        let mut arms = Vec::new();
        for mut arm in match_.arms {
            self.scopes.push();
            let bound = self.declare_pattern(&arm.pat, None, false);
            let mut reads = BTreeSet::new();
            if let Some((_, guard)) = &mut arm.guard {
                reads = scope::analyze_expr(guard, &self.scopes, self.body.jumps.next_id()).reads;
            }
            // The pattern binds before the guard reads.
            let bind = self.node(BTreeSet::new(), bound.into_iter().collect());
            self.edge(Some(scrutinee), bind);
            let entry = self.node(reads, BTreeSet::new());
            self.edge(Some(bind), entry);
            let body = std::mem::replace(&mut *arm.body, Expr::Verbatim(Default::default()));
            let block = match body {
                Expr::Block(block) if block.label.is_none() => block.block,
                other => syn::Block {
                    brace_token: Default::default(),
                    stmts: vec![SynStmt::Expr(other, None)],
                },
            };
            let block = self.lower_block(block, cont.clone(), Some(entry));
            self.scopes.pop();
            arms.push((arm, block));
        }
        Construct::Match {
            expr: match_.expr,
            arms,
        }
    }
}
