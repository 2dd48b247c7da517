//! One walk of sqlparser's syntax tree for all of the SQL rewrite.
//!
//! sqlparser's visitors are generic: each visitor type (and each closure given to
//! `visit_expressions_mut` is one) compiles its own copy of the walk over the hundreds of node
//! types of the AST, each step wrapped in a stack-growth check. With a dozen visitors that was
//! megabytes of machine code in the extension. Here every visitor is called through one `dyn`
//! visitor, so the walk is compiled once for reading the tree and once for changing it; the calls
//! happen once per query, while it is planned.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Query, Select, Statement, TableFactor, ValueWithSpan, Visit, VisitMut,
    Visitor, VisitorMut,
};

/// Walks `node` with `visitor` (what `node.visit(visitor)` does, without its own copy of the walk).
pub fn walk<N: Visit + ?Sized, V: Visitor>(node: &N, visitor: &mut V) -> ControlFlow<V::Break> {
    let mut erased = Erased {
        inner: visitor,
        broke: None,
    };
    let _ = node.visit(&mut DynVisitor(&mut erased));
    erased.outcome()
}

/// Walks `node` with `visitor`, which may change it (what `node.visit(visitor)` does).
pub fn walk_mut<N: VisitMut + ?Sized, V: VisitorMut>(
    node: &mut N,
    visitor: &mut V,
) -> ControlFlow<V::Break> {
    let mut erased = Erased {
        inner: visitor,
        broke: None,
    };
    let _ = node.visit(&mut DynVisitorMut(&mut erased));
    erased.outcome()
}

/// Calls `f` on every expression of `node`, before its subexpressions (as sqlparser's
/// `visit_expressions`).
pub fn exprs<N: Visit + ?Sized, E>(
    node: &N,
    f: impl FnMut(&Expr) -> ControlFlow<E>,
) -> ControlFlow<E> {
    walk(node, &mut ExprFn(f))
}

/// Calls `f` on every expression of `node`, after its subexpressions, and lets it change the
/// expression (as sqlparser's `visit_expressions_mut`).
pub fn exprs_mut<N: VisitMut + ?Sized, E>(
    node: &mut N,
    f: impl FnMut(&mut Expr) -> ControlFlow<E>,
) -> ControlFlow<E> {
    walk_mut(node, &mut ExprFn(f))
}

struct ExprFn<F>(F);

impl<E, F: FnMut(&Expr) -> ControlFlow<E>> Visitor for ExprFn<F> {
    type Break = E;

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<E> {
        (self.0)(expr)
    }
}

impl<E, F: FnMut(&mut Expr) -> ControlFlow<E>> VisitorMut for ExprFn<F> {
    type Break = E;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<E> {
        (self.0)(expr)
    }
}

/// A visitor whose break value waits aside, so that the walk itself only ever breaks with `()`.
struct Erased<'a, V: ?Sized, B> {
    inner: &'a mut V,
    broke: Option<B>,
}

impl<V: ?Sized, B> Erased<'_, V, B> {
    fn keep(&mut self, flow: ControlFlow<B>) -> ControlFlow<()> {
        match flow {
            ControlFlow::Continue(()) => ControlFlow::Continue(()),
            ControlFlow::Break(b) => {
                self.broke = Some(b);
                ControlFlow::Break(())
            }
        }
    }

    fn outcome(self) -> ControlFlow<B> {
        match self.broke {
            Some(b) => ControlFlow::Break(b),
            None => ControlFlow::Continue(()),
        }
    }
}

/// The one visitor type the walk is compiled for.
struct DynVisitor<'a>(&'a mut dyn Visitor<Break = ()>);

/// The one visitor type the changing walk is compiled for.
struct DynVisitorMut<'a>(&'a mut dyn VisitorMut<Break = ()>);

/// Implements every method of sqlparser's `Visitor` (nodes by `&`) or `VisitorMut` (by `&mut`)
/// for the erasing adapter and for the `dyn` forwarder.
macro_rules! forward {
    ($visitor:ident, $forwarder:ty, $($pre:ident, $post:ident: $node:ty;)+) => {
        impl<V: $visitor + ?Sized> $visitor for Erased<'_, V, V::Break> {
            type Break = ();
            $(
                fn $pre(&mut self, node: $node) -> ControlFlow<()> {
                    let flow = self.inner.$pre(node);
                    self.keep(flow)
                }
                fn $post(&mut self, node: $node) -> ControlFlow<()> {
                    let flow = self.inner.$post(node);
                    self.keep(flow)
                }
            )+
        }

        impl $visitor for $forwarder {
            type Break = ();
            $(
                fn $pre(&mut self, node: $node) -> ControlFlow<()> {
                    self.0.$pre(node)
                }
                fn $post(&mut self, node: $node) -> ControlFlow<()> {
                    self.0.$post(node)
                }
            )+
        }
    };
}

forward!(Visitor, DynVisitor<'_>,
    pre_visit_query, post_visit_query: &Query;
    pre_visit_select, post_visit_select: &Select;
    pre_visit_relation, post_visit_relation: &ObjectName;
    pre_visit_table_factor, post_visit_table_factor: &TableFactor;
    pre_visit_expr, post_visit_expr: &Expr;
    pre_visit_statement, post_visit_statement: &Statement;
    pre_visit_value, post_visit_value: &ValueWithSpan;
);

forward!(VisitorMut, DynVisitorMut<'_>,
    pre_visit_query, post_visit_query: &mut Query;
    pre_visit_select, post_visit_select: &mut Select;
    pre_visit_relation, post_visit_relation: &mut ObjectName;
    pre_visit_table_factor, post_visit_table_factor: &mut TableFactor;
    pre_visit_expr, post_visit_expr: &mut Expr;
    pre_visit_statement, post_visit_statement: &mut Statement;
    pre_visit_value, post_visit_value: &mut ValueWithSpan;
);

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn query(sql: &str) -> Query {
        let mut statements = Parser::parse_sql(&GenericDialect {}, sql).expect("parses");
        match statements.remove(0) {
            Statement::Query(q) => *q,
            other => panic!("not a query: {other}"),
        }
    }

    #[test]
    fn expressions_are_seen_before_their_parts_and_changed_after_them() {
        let mut q = query("SELECT a + 1 FROM t WHERE b IN (SELECT c FROM u)");
        let mut seen = Vec::new();
        let _ = exprs(&q, |e| {
            seen.push(e.to_string());
            ControlFlow::<()>::Continue(())
        });
        assert_eq!(
            seen,
            ["a + 1", "a", "1", "b IN (SELECT c FROM u)", "b", "c"]
        );
        let mut changed = Vec::new();
        let _ = exprs_mut(&mut q, |e| {
            changed.push(e.to_string());
            if let Expr::Identifier(id) = e {
                id.value = id.value.to_uppercase();
            }
            ControlFlow::<()>::Continue(())
        });
        assert_eq!(changed[..3], ["a", "1", "A + 1"]);
        assert_eq!(
            q.to_string(),
            "SELECT A + 1 FROM t WHERE B IN (SELECT C FROM u)"
        );
    }

    #[test]
    fn a_break_stops_the_walk_and_comes_back_with_its_value() {
        let q = query("SELECT x, y, z FROM t");
        let mut count = 0;
        let flow = exprs(&q, |e| {
            count += 1;
            match e {
                Expr::Identifier(id) if id.value == "y" => ControlFlow::Break(id.value.clone()),
                _ => ControlFlow::Continue(()),
            }
        });
        assert_eq!(flow, ControlFlow::Break("y".to_string()));
        assert_eq!(count, 2);
    }

    #[test]
    fn a_visitor_sees_relations_and_queries() {
        struct Tables(Vec<String>, usize);
        impl VisitorMut for Tables {
            type Break = ();
            fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<()> {
                self.0.push(name.to_string());
                ControlFlow::Continue(())
            }
            fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
                self.1 += 1;
                ControlFlow::Continue(())
            }
        }
        let mut q = query("WITH w AS (SELECT 1) SELECT * FROM a JOIN (SELECT * FROM b) ON true");
        let mut tables = Tables(Vec::new(), 0);
        assert_eq!(walk_mut(&mut q, &mut tables), ControlFlow::Continue(()));
        assert_eq!(tables.0, ["a", "b"]);
        assert_eq!(tables.1, 3);
    }
}
