//! The Glue Data Catalog database and the CloudTrail table, through CreateTable / UpdateTable
//! (declarative and diffable) rather than DDL through Athena.

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};

use super::aws::{code, sdk_error};
use super::ddl::{table_definition, TableDefinition};
use super::{Action, Change, Ctx, MANAGED_TAG, STACK_TAG};
use crate::Result;

const NOT_FOUND: &str = "EntityNotFoundException";

fn params_are_ours(ctx: &Ctx, params: Option<&HashMap<String, String>>) -> bool {
    params.is_some_and(|p| ctx.is_ours(p.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// Whether the database exists and whether this stack created it.
async fn read_database(ctx: &Ctx) -> Result<Option<bool>> {
    match ctx
        .clients
        .glue
        .get_database()
        .name(&ctx.want.cfg.database)
        .send()
        .await
    {
        Ok(out) => Ok(Some(params_are_ours(
            ctx,
            out.database().and_then(|d| d.parameters()),
        ))),
        Err(e) if code(&e).as_deref() == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(sdk_error("glue database (GetDatabase)", e)),
    }
}

pub(crate) async fn database(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "glue database";
    let name = ctx.want.cfg.database.clone();
    match read_database(ctx).await? {
        Some(ours) => {
            let note = if ours {
                "created by this stack"
            } else {
                "existing database reused (not created by spintrail)"
            };
            Ok(Change::new(KIND, name, Action::NoChange).with(vec![note.into()]))
        }
        None => {
            if ctx.apply {
                let input = DatabaseInput::builder()
                    .name(&name)
                    .description("CloudTrail logs (created by spintrail)")
                    .parameters(MANAGED_TAG, "true")
                    .parameters(STACK_TAG, &ctx.want.cfg.name)
                    .build()?;
                match ctx
                    .clients
                    .glue
                    .create_database()
                    .database_input(input)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if code(&e).as_deref() == Some("AlreadyExistsException") => {}
                    Err(e) => return Err(sdk_error("glue database (CreateDatabase)", e)),
                }
            }
            Ok(Change::new(KIND, name, Action::Create))
        }
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
        .description("CloudTrail logs with partition projection (managed by spintrail)")
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

pub(crate) async fn table(ctx: &Ctx, database_exists: bool) -> Result<Change> {
    const KIND: &str = "glue table";
    let want = table_definition(&ctx.want)?;
    let name = format!("{}.{}", want.database, want.name);
    let existing = if database_exists {
        match ctx
            .clients
            .glue
            .get_table()
            .database_name(&want.database)
            .name(&want.name)
            .send()
            .await
        {
            Ok(out) => out.table().cloned(),
            Err(e) if code(&e).as_deref() == Some(NOT_FOUND) => None,
            Err(e) => return Err(sdk_error("glue table (GetTable)", e)),
        }
    } else {
        None
    };
    let change = match &existing {
        None => Change::new(KIND, name.clone(), Action::Create),
        Some(table) => {
            let details = diff(table, &want);
            if !params_are_ours(ctx, table.parameters()) && !details.is_empty() {
                return Err(super::Error::Aws {
                    step: "glue table".into(),
                    message: format!(
                        "table {name} exists and was not created by spintrail stack {:?}; it \
                         differs ({}). spintrail never changes resources it did not create: \
                         choose another table name (--table) or database (--database)",
                        ctx.want.cfg.name,
                        details.join("; ")
                    ),
                });
            }
            Change::diff(KIND, name.clone(), true, details)
        }
    };
    if !ctx.apply || !change.changes() {
        return Ok(change);
    }
    let glue = &ctx.clients.glue;
    let input = table_input(&want)?;
    if change.action == Action::Create {
        glue.create_table()
            .database_name(&want.database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| sdk_error("glue table (CreateTable)", e))?;
    } else {
        glue.update_table()
            .database_name(&want.database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| sdk_error("glue table (UpdateTable)", e))?;
    }
    Ok(change)
}

pub(crate) async fn destroy_table(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "glue table";
    let (db, table) = (&ctx.want.cfg.database, &ctx.want.cfg.table);
    let name = format!("{db}.{table}");
    let found = match ctx
        .clients
        .glue
        .get_table()
        .database_name(db)
        .name(table)
        .send()
        .await
    {
        Ok(out) => out.table().cloned(),
        Err(e) if code(&e).as_deref() == Some(NOT_FOUND) => None,
        Err(e) => return Err(sdk_error("glue table (GetTable)", e)),
    };
    let Some(found) = found else {
        return Ok(Change::new(KIND, name, Action::NoChange).with(vec!["does not exist".into()]));
    };
    if !params_are_ours(ctx, found.parameters()) {
        return Ok(Change::new(KIND, name, Action::Keep)
            .with(vec!["not created by this stack: left untouched".into()]));
    }
    ctx.clients
        .glue
        .delete_table()
        .database_name(db)
        .name(table)
        .send()
        .await
        .map_err(|e| sdk_error("glue table (DeleteTable)", e))?;
    Ok(Change::new(KIND, name, Action::Delete))
}

pub(crate) async fn destroy_database(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "glue database";
    let name = ctx.want.cfg.database.clone();
    match read_database(ctx).await? {
        None => Ok(Change::new(KIND, name, Action::NoChange).with(vec!["does not exist".into()])),
        Some(false) => Ok(Change::new(KIND, name, Action::Keep)
            .with(vec!["not created by this stack: left untouched".into()])),
        Some(true) => {
            let tables = ctx
                .clients
                .glue
                .get_tables()
                .database_name(&name)
                .max_results(1)
                .send()
                .await
                .map_err(|e| sdk_error("glue database (GetTables)", e))?;
            if !tables.table_list().is_empty() {
                return Ok(Change::new(KIND, name, Action::Keep)
                    .with(vec!["still holds other tables: kept".into()]));
            }
            ctx.clients
                .glue
                .delete_database()
                .name(&name)
                .send()
                .await
                .map_err(|e| sdk_error("glue database (DeleteDatabase)", e))?;
            Ok(Change::new(KIND, name, Action::Delete))
        }
    }
}
