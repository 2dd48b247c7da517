//! The Glue Data Catalog database and the CloudTrail table, through CreateTable / UpdateTable
//! (declarative and diffable) rather than DDL through Athena.

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};

use super::aws::{sdk_error, tolerate};
use super::ddl::{parquet_table_definition, table_definition, TableDefinition};
use super::resource::{Found, Removable, Removal, Resource};
use super::{Ctx, MANAGED_TAG, STACK_TAG};
use crate::Result;

const NOT_FOUND: &str = "EntityNotFoundException";

fn params_are_ours(ctx: &Ctx, params: Option<&HashMap<String, String>>) -> bool {
    params.is_some_and(|p| ctx.is_ours(p.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// The Glue database the table lives in; an existing one is reused as it is.
pub(crate) struct Database {
    name: String,
}

impl Resource for Database {
    type State = ();
    const KIND: &'static str = "glue database";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(Database {
            name: ctx.want.cfg.database.clone(),
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<()>>> {
        let answer = ctx
            .clients
            .glue
            .get_database()
            .name(&self.name)
            .send()
            .await;
        let found = tolerate(NOT_FOUND, "glue database (GetDatabase)", answer)?;
        Ok(found.map(|out| Found {
            state: (),
            ours: params_are_ours(ctx, out.database().and_then(|d| d.parameters())),
        }))
    }

    fn note(&self, ours: bool) -> Option<&'static str> {
        Some(if ours {
            "created by this stack"
        } else {
            "existing database reused (not created by spintrail)"
        })
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let input = DatabaseInput::builder()
            .name(&self.name)
            .description("CloudTrail logs (created by spintrail)")
            .parameters(MANAGED_TAG, "true")
            .parameters(STACK_TAG, &ctx.want.cfg.name)
            .build()?;
        let answer = ctx
            .clients
            .glue
            .create_database()
            .database_input(input)
            .send()
            .await;
        tolerate(
            "AlreadyExistsException",
            "glue database (CreateDatabase)",
            answer,
        )?;
        Ok(())
    }
}

impl Removable for Database {
    /// Only an empty database goes: another table in it may be someone else's.
    async fn delete(&self, ctx: &Ctx, _have: &()) -> Result<Removal> {
        let glue = &ctx.clients.glue;
        let tables = glue
            .get_tables()
            .database_name(&self.name)
            .max_results(1)
            .send()
            .await
            .map_err(|e| sdk_error("glue database (GetTables)", e))?;
        if !tables.table_list().is_empty() {
            return Ok(Removal::Kept("still holds other tables: kept"));
        }
        glue.delete_database()
            .name(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("glue database (DeleteDatabase)", e))?;
        Ok(Removal::Deleted(Vec::new()))
    }
}

fn columns(list: &[(String, String)]) -> Result<Vec<Column>> {
    list.iter()
        .map(|(n, t)| Ok(Column::builder().name(n).r#type(t).build()?))
        .collect()
}

fn table_input(def: &TableDefinition) -> Result<TableInput> {
    let storage = StorageDescriptor::builder()
        .set_columns(Some(columns(&def.columns)?))
        .location(&def.location)
        .input_format(&def.input_format)
        .output_format(&def.output_format)
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(&def.serde)
                .build(),
        )
        .build();
    Ok(TableInput::builder()
        .name(&def.name)
        .description(if def.serde == super::ddl::PARQUET_SERDE {
            "CloudTrail logs compacted to Parquet, with partition projection (managed by spintrail)"
        } else {
            "CloudTrail logs with partition projection (managed by spintrail)"
        })
        .table_type("EXTERNAL_TABLE")
        .set_partition_keys(Some(columns(&def.partition_keys)?))
        .set_parameters(Some(def.parameters.clone().into_iter().collect()))
        .storage_descriptor(storage)
        .build()?)
}

fn pairs(list: &[Column]) -> Vec<(String, String)> {
    list.iter()
        .map(|c| (c.name().to_string(), c.r#type().unwrap_or("").to_string()))
        .collect()
}

/// What differs between an existing Glue table and the definition.
fn diff(table: &aws_sdk_glue::types::Table, want: &TableDefinition) -> Vec<String> {
    let mut out = Vec::new();
    let sd = table.storage_descriptor();
    let have_columns = sd.map(|s| pairs(s.columns())).unwrap_or_default();
    if have_columns != want.columns {
        let names: Vec<&str> = want
            .columns
            .iter()
            .filter(|c| !have_columns.contains(c))
            .map(|(n, _)| n.as_str())
            .collect();
        out.push(format!(
            "columns differ (new or changed: {})",
            names.join(", ")
        ));
    }
    if pairs(table.partition_keys()) != want.partition_keys {
        out.push("partition keys differ".into());
    }
    let checks = [
        ("location", sd.and_then(|s| s.location()), &want.location),
        (
            "input format",
            sd.and_then(|s| s.input_format()),
            &want.input_format,
        ),
        (
            "output format",
            sd.and_then(|s| s.output_format()),
            &want.output_format,
        ),
        (
            "SerDe",
            sd.and_then(|s| s.serde_info())
                .and_then(|s| s.serialization_library()),
            &want.serde,
        ),
    ];
    for (what, have, want) in checks {
        if have != Some(want.as_str()) {
            out.push(format!("{what}: {} -> {want}", have.unwrap_or("none")));
        }
    }
    let params = table.parameters();
    for (k, v) in &want.parameters {
        let have = params.and_then(|p| p.get(k));
        if have != Some(v) {
            out.push(format!(
                "{k}: {} -> {v}",
                have.map(String::as_str).unwrap_or("none")
            ));
        }
    }
    out
}

/// The Glue table or view `database.name`, `None` when there is none (a missing database reads
/// as a missing table: Glue answers both with "not found"); `kind` names the step in errors.
async fn get_table(
    ctx: &Ctx,
    kind: &str,
    database: &str,
    name: &str,
) -> Result<Option<Found<aws_sdk_glue::types::Table>>> {
    let answer = ctx
        .clients
        .glue
        .get_table()
        .database_name(database)
        .name(name)
        .send()
        .await;
    let found = tolerate(NOT_FOUND, &format!("{kind} (GetTable)"), answer)?;
    Ok(found
        .and_then(|out| out.table().cloned())
        .map(|table| Found {
            ours: params_are_ours(ctx, table.parameters()),
            state: table,
        }))
}

/// Creates the table or view `input` in `database` (CreateTable), or replaces it (UpdateTable).
async fn put_table(
    ctx: &Ctx,
    kind: &str,
    database: &str,
    input: TableInput,
    replace: bool,
) -> Result<()> {
    let glue = &ctx.clients.glue;
    if replace {
        glue.update_table()
            .database_name(database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("{kind} (UpdateTable)"), e))?;
    } else {
        glue.create_table()
            .database_name(database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("{kind} (CreateTable)"), e))?;
    }
    Ok(())
}

/// Deletes the table or view `database.name`.
async fn delete_table(ctx: &Ctx, kind: &str, database: &str, name: &str) -> Result<Removal> {
    ctx.clients
        .glue
        .delete_table()
        .database_name(database)
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("{kind} (DeleteTable)"), e))?;
    Ok(Removal::Deleted(Vec::new()))
}

/// A Glue table resource whose definition `$definition` gives.
macro_rules! glue_table {
    ($(#[$doc:meta])* $name:ident, $definition:expr) => {
        $(#[$doc])*
        pub(crate) struct $name {
            /// `database.table`, as the report names it.
            name: String,
            want: TableDefinition,
        }

        impl Resource for $name {
            type State = aws_sdk_glue::types::Table;
            const KIND: &'static str = "glue table";

            fn desired(ctx: &Ctx) -> Result<Self> {
                let want = $definition(&ctx.want)?;
                Ok($name {
                    name: format!("{}.{}", want.database, want.name),
                    want,
                })
            }

            fn name(&self) -> &str {
                &self.name
            }

            async fn read(&self, ctx: &Ctx) -> Result<Option<Found<Self::State>>> {
                get_table(ctx, Self::KIND, &self.want.database, &self.want.name).await
            }

            fn diff(&self, have: &Self::State) -> Result<Vec<String>> {
                Ok(diff(have, &self.want))
            }

            fn remedy(&self) -> &'static str {
                "choose another table name (--table) or database (--database)"
            }

            async fn create(&self, ctx: &mut Ctx) -> Result<()> {
                let input = table_input(&self.want)?;
                put_table(ctx, Self::KIND, &self.want.database, input, false).await
            }

            async fn update(&self, ctx: &mut Ctx, _have: &Self::State) -> Result<()> {
                let input = table_input(&self.want)?;
                put_table(ctx, Self::KIND, &self.want.database, input, true).await
            }
        }

        impl Removable for $name {
            async fn delete(&self, ctx: &Ctx, _have: &Self::State) -> Result<Removal> {
                delete_table(ctx, Self::KIND, &self.want.database, &self.want.name).await
            }
        }
    };
}

glue_table!(
    /// The CloudTrail table, with partition projection.
    Table,
    table_definition
);

/// The Parquet copy's table, converged only when `parquet_location` is configured.
fn parquet_definition(want: &super::config::Resolved) -> Result<TableDefinition> {
    parquet_table_definition(want)?
        .ok_or_else(|| crate::Error::InvalidArgument("parquet_location is not configured".into()))
}

glue_table!(
    /// The table over the Parquet copy `spintrail compact` writes.
    ParquetTable,
    parquet_definition
);

/// Standard base64 (with padding), for the Presto view text Athena stores in Glue.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text Athena keeps as a view's definition: the view as JSON, base64, in a comment.
fn presto_view_text(view: &super::ddl::ViewDefinition) -> String {
    let columns: Vec<serde_json::Value> = view
        .columns
        .iter()
        .map(|(name, _, presto)| serde_json::json!({"name": name, "type": presto}))
        .collect();
    let body = serde_json::json!({
        "originalSql": view.sql,
        "catalog": "awsdatacatalog",
        "schema": view.database,
        "columns": columns,
    });
    format!("/* Presto View: {} */", base64(body.to_string().as_bytes()))
}

/// The Athena view `<table>_dedup`: each `eventid` once per partition of the JSON table.
pub(crate) struct DedupView {
    name: String,
    want: super::ddl::ViewDefinition,
    text: String,
}

impl DedupView {
    fn input(&self, ctx: &Ctx) -> Result<TableInput> {
        let columns: Vec<Column> = self
            .want
            .columns
            .iter()
            .map(|(n, hive, _)| Ok(Column::builder().name(n).r#type(hive).build()?))
            .collect::<Result<_>>()?;
        Ok(TableInput::builder()
            .name(&self.want.name)
            .description("CloudTrail events, each eventid once (managed by spintrail)")
            .table_type("VIRTUAL_VIEW")
            .view_original_text(&self.text)
            .view_expanded_text("/* Presto View */")
            .parameters("presto_view", "true")
            .parameters("comment", "Presto View")
            .parameters(MANAGED_TAG, "true")
            .parameters(STACK_TAG, &ctx.want.cfg.name)
            .storage_descriptor(
                StorageDescriptor::builder()
                    .set_columns(Some(columns))
                    .serde_info(SerDeInfo::builder().build())
                    .build(),
            )
            .build()?)
    }
}

impl Resource for DedupView {
    type State = aws_sdk_glue::types::Table;
    const KIND: &'static str = "athena view";

    fn desired(ctx: &Ctx) -> Result<Self> {
        let want = super::ddl::dedup_view_definition(&ctx.want)?;
        Ok(DedupView {
            name: format!("{}.{}", want.database, want.name),
            text: presto_view_text(&want),
            want,
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<Self::State>>> {
        get_table(ctx, Self::KIND, &self.want.database, &self.want.name).await
    }

    fn diff(&self, have: &Self::State) -> Result<Vec<String>> {
        Ok(if have.view_original_text() == Some(self.text.as_str()) {
            Vec::new()
        } else {
            vec!["view definition differs".into()]
        })
    }

    fn remedy(&self) -> &'static str {
        "choose another table name (--table): the view is named <table>_dedup"
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let input = self.input(ctx)?;
        put_table(ctx, Self::KIND, &self.want.database, input, false).await
    }

    async fn update(&self, ctx: &mut Ctx, _have: &Self::State) -> Result<()> {
        let input = self.input(ctx)?;
        put_table(ctx, Self::KIND, &self.want.database, input, true).await
    }
}

impl Removable for DedupView {
    async fn delete(&self, ctx: &Ctx, _have: &Self::State) -> Result<Removal> {
        delete_table(ctx, Self::KIND, &self.want.database, &self.want.name).await
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
