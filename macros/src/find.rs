//! One search over syntax trees, for every pass that asks "is there an X in this code?":
//! an await of the workflow, a `return`, a jump or assignment the lowering must track, a type
//! left to inference, a borrow in a type.
//!
//! The searches for code of the workflow ([`Sought::Await`], [`Sought::Return`],
//! [`Sought::JumpOrAssign`]) do not look into closures, async blocks or nested items: what
//! happens there belongs to them, not to the workflow. The searches in types look everywhere.

use syn::visit::{self, Visit};

/// What [`contains`] looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sought {
    /// `.await`.
    Await,
    /// `return`.
    Return,
    /// `break`, `continue` or an assignment with `=`.
    JumpOrAssign,
    /// `_` or `impl Trait` in a type: a part the user left to inference.
    InferredType,
    /// A reference or a lifetime in a type.
    Borrow,
}

impl Sought {
    /// Whether the search stops at closures, async blocks and nested items.
    fn stays_in_workflow(self) -> bool {
        matches!(self, Sought::Await | Sought::Return | Sought::JumpOrAssign)
    }
}

/// Whether `node` contains what is sought.
pub fn contains<T: Searchable + ?Sized>(node: &T, sought: Sought) -> bool {
    let mut finder = Finder {
        sought,
        found: false,
    };
    node.search(&mut finder);
    finder.found
}

/// Whether `node` holds an await of the workflow (not one inside a closure or async block).
pub fn has_await<T: Searchable + ?Sized>(node: &T) -> bool {
    contains(node, Sought::Await)
}

/// Syntax trees [`contains`] can look into.
pub trait Searchable {
    #[doc(hidden)]
    fn search(&self, finder: &mut Finder);
}

impl Searchable for syn::Expr {
    fn search(&self, finder: &mut Finder) {
        finder.visit_expr(self);
    }
}

impl Searchable for syn::Block {
    fn search(&self, finder: &mut Finder) {
        finder.visit_block(self);
    }
}

impl Searchable for syn::Stmt {
    fn search(&self, finder: &mut Finder) {
        finder.visit_stmt(self);
    }
}

impl Searchable for syn::Type {
    fn search(&self, finder: &mut Finder) {
        finder.visit_type(self);
    }
}

/// The visitor behind [`contains`].
#[doc(hidden)]
pub struct Finder {
    sought: Sought,
    found: bool,
}

impl Finder {
    fn found_if(&mut self, sought: Sought) {
        if self.sought == sought {
            self.found = true;
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_expr_await(&mut self, await_: &'ast syn::ExprAwait) {
        self.found_if(Sought::Await);
        visit::visit_expr_await(self, await_);
    }
    fn visit_expr_return(&mut self, return_: &'ast syn::ExprReturn) {
        self.found_if(Sought::Return);
        visit::visit_expr_return(self, return_);
    }
    fn visit_expr_break(&mut self, break_: &'ast syn::ExprBreak) {
        self.found_if(Sought::JumpOrAssign);
        visit::visit_expr_break(self, break_);
    }
    fn visit_expr_continue(&mut self, continue_: &'ast syn::ExprContinue) {
        self.found_if(Sought::JumpOrAssign);
        visit::visit_expr_continue(self, continue_);
    }
    fn visit_expr_assign(&mut self, assign: &'ast syn::ExprAssign) {
        self.found_if(Sought::JumpOrAssign);
        visit::visit_expr_assign(self, assign);
    }
    fn visit_type_infer(&mut self, infer: &'ast syn::TypeInfer) {
        self.found_if(Sought::InferredType);
        visit::visit_type_infer(self, infer);
    }
    fn visit_type_impl_trait(&mut self, impl_trait: &'ast syn::TypeImplTrait) {
        self.found_if(Sought::InferredType);
        visit::visit_type_impl_trait(self, impl_trait);
    }
    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        self.found_if(Sought::Borrow);
        visit::visit_type_reference(self, reference);
    }
    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        self.found_if(Sought::Borrow);
        visit::visit_lifetime(self, lifetime);
    }
    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        if !self.sought.stays_in_workflow() {
            visit::visit_expr_closure(self, closure);
        }
    }
    fn visit_expr_async(&mut self, async_: &'ast syn::ExprAsync) {
        if !self.sought.stays_in_workflow() {
            visit::visit_expr_async(self, async_);
        }
    }
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !self.sought.stays_in_workflow() {
            visit::visit_item(self, item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awaits_in_closures_and_async_blocks_are_not_the_workflows() {
        let expr: syn::Expr = syn::parse_quote!(f(|| g().await, async { h().await }));
        assert!(!has_await(&expr));
        let expr: syn::Expr = syn::parse_quote!(f(g().await));
        assert!(has_await(&expr));
    }

    #[test]
    fn types_are_searched_everywhere() {
        let ty: syn::Type = syn::parse_quote!(Vec<(u8, impl Fn())>);
        assert!(contains(&ty, Sought::InferredType));
        assert!(!contains(&ty, Sought::Borrow));
        let ty: syn::Type = syn::parse_quote!(Cow<'static, str>);
        assert!(contains(&ty, Sought::Borrow));
    }
}
