//! Which fields of the table's struct columns a query reads.
//!
//! DataFusion hands a scan the columns a query needs, not the fields of a struct column it reads:
//! `useridentity.arn` makes the scan build all of `useridentity` (a dozen strings and a nested
//! struct a record) to read one string. This walks the query's logical plan before it is
//! optimised: a struct column that every expression reads only through `get_field(column, 'name')`
//! (what `useridentity.arn` plans as) needs only those fields; any other use of the column (the
//! column itself, in a projection, a comparison, a function, a group) needs all of it. The answer
//! goes to the scans through the session configuration ([`FieldsRead`]); the reader leaves the
//! other fields null without decoding them, and the column keeps its type.
//!
//! The walk is conservative: it follows subqueries and views, counts references by column name
//! whatever table they come from, and gives up (every field read) on a plan node it does not know.

use std::collections::{BTreeSet, HashMap};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::local::table::literal_text;

/// The struct columns a query reads only some fields of, by column name, with those fields (lower
/// case). A column not listed is read whole (or not at all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldsRead {
    columns: HashMap<String, BTreeSet<String>>,
}

impl FieldsRead {
    /// The fields of `column` the query reads, if it reads only some.
    pub fn of(&self, column: &str) -> Option<&BTreeSet<String>> {
        self.columns.get(column)
    }

    /// What `plan` (a logical plan before optimisation) reads of each struct column.
    pub fn of_plan(plan: &LogicalPlan) -> Self {
        let mut uses = Uses::default();
        if visit_plan(plan, &mut uses).is_err() || uses.opaque {
            return FieldsRead::default();
        }
        FieldsRead {
            columns: uses
                .columns
                .into_iter()
                .filter_map(|(name, fields)| fields.map(|f| (name, f)))
                .collect(),
        }
    }
}

/// References seen so far: per column name, the fields read (`None`: the whole column).
#[derive(Default)]
struct Uses {
    columns: HashMap<String, Option<BTreeSet<String>>>,
    /// A node the walk does not understand: every field counts as read.
    opaque: bool,
}

impl Uses {
    fn whole(&mut self, column: &str) {
        self.columns.insert(column.to_string(), None);
    }

    fn field(&mut self, column: &str, field: &str) {
        let entry = self
            .columns
            .entry(column.to_string())
            .or_insert_with(|| Some(BTreeSet::new()));
        if let Some(fields) = entry {
            fields.insert(field.to_ascii_lowercase());
        }
    }
}

fn visit_plan(plan: &LogicalPlan, uses: &mut Uses) -> datafusion::error::Result<()> {
    plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Values(_)
            | LogicalPlan::Distinct(_) => {}
            LogicalPlan::TableScan(scan) => {
                // A view's own plan reads the table too.
                if let Some(view) = scan.source.get_logical_plan() {
                    visit_plan(&view, uses)?;
                }
            }
            _ => {
                uses.opaque = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        for expr in node.expressions() {
            visit_expr(&expr, uses)?;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

fn visit_expr(expr: &Expr, uses: &mut Uses) -> datafusion::error::Result<()> {
    expr.apply(|e| {
        if let Some((column, field)) = field_of_column(e) {
            uses.field(column, field);
            // The column inside is read through this field only.
            return Ok(TreeNodeRecursion::Jump);
        }
        match e {
            Expr::Column(c) => uses.whole(&c.name),
            Expr::OuterReferenceColumn(_, c) => uses.whole(&c.name),
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

/// `get_field(<column>, '<field>'[, ...])`: the column's name and the first field's.
fn field_of_column(expr: &Expr) -> Option<(&str, &str)> {
    let Expr::ScalarFunction(f) = expr else {
        return None;
    };
    if f.func.name() != "get_field" || f.args.len() < 2 {
        return None;
    }
    let column = match &f.args[0] {
        Expr::Column(c) => c.name.as_str(),
        _ => return None,
    };
    Some((column, literal_text(&f.args[1])?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Fields, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn read(sql: &str) -> FieldsRead {
        let inner = Fields::from(vec![Field::new("arn", DataType::Utf8, true)]);
        let identity = Fields::from(vec![
            Field::new("arn", DataType::Utf8, true),
            Field::new("type", DataType::Utf8, true),
            Field::new("sessioncontext", DataType::Struct(inner), true),
        ]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("useridentity", DataType::Struct(identity.clone()), true),
            Field::new("tlsdetails", DataType::Struct(identity), true),
            Field::new("eventname", DataType::Utf8, true),
        ]));
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        FieldsRead::of_plan(&plan)
    }

    fn set(fields: &[&str]) -> Option<BTreeSet<String>> {
        Some(fields.iter().map(|f| f.to_string()).collect())
    }

    #[tokio::test]
    async fn fields_read_through_get_field_are_all_a_struct_needs() {
        let r = read(
            "SELECT useridentity.arn, count(*) FROM t WHERE useridentity.type = 'Root' \
             AND useridentity.sessioncontext.arn IS NOT NULL GROUP BY 1",
        )
        .await;
        assert_eq!(
            r.of("useridentity").cloned(),
            set(&["arn", "sessioncontext", "type"])
        );
        assert_eq!(r.of("tlsdetails"), None, "not read at all");
    }

    #[tokio::test]
    async fn any_other_use_of_the_column_reads_it_whole() {
        for sql in [
            "SELECT useridentity FROM t",
            "SELECT * FROM t WHERE useridentity.arn = 'x'",
            "SELECT u.arn FROM (SELECT useridentity AS u FROM t) s",
            "SELECT useridentity.arn FROM t WHERE useridentity IS NULL",
            "SELECT useridentity.arn FROM t GROUP BY useridentity",
            "SELECT useridentity.arn FROM t WHERE EXISTS \
             (SELECT 1 FROM t t2 WHERE t2.useridentity = t.useridentity)",
            "SELECT useridentity.arn FROM t UNION ALL SELECT useridentity.arn FROM \
             (SELECT useridentity FROM t) s",
        ] {
            assert_eq!(read(sql).await.of("useridentity"), None, "{sql}");
        }
    }

    #[tokio::test]
    async fn fields_in_subqueries_count_too() {
        let r = read(
            "SELECT useridentity.arn FROM t WHERE eventname IN \
             (SELECT eventname FROM t WHERE useridentity.type = 'Root')",
        )
        .await;
        assert_eq!(r.of("useridentity").cloned(), set(&["arn", "type"]));
    }
}
