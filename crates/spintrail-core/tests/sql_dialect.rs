//! Trino dialect layer: rewrites, functions and errors, against a MemTable with the CloudTrail schema.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ListBuilder, RecordBatch, StringBuilder, StructBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use spintrail_core::local::sql::{plan_query, register_trino_functions};
use spintrail_core::schema::table_schema;
use spintrail_core::Error;

struct Row {
    eventname: &'static str,
    eventtime: &'static str,
    arn: Option<&'static str>,
    errorcode: Option<&'static str>,
    params: Option<&'static str>,
    resources: Option<Vec<(&'static str, &'static str, &'static str)>>,
}

const SPIN: &str = "arn:aws:sts::123456789012:assumed-role/SpinnakerManagedCA/Spinnaker";

fn rows() -> Vec<Row> {
    let now = chrono::Utc::now();
    let recent: &'static str = Box::leak(
        now.format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
            .into_boxed_str(),
    );
    vec![
        Row {
            eventname: "DescribeInstances",
            eventtime: recent,
            arn: Some(SPIN),
            errorcode: None,
            params: Some(
                r#"{"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}, "a.b": "dot", "n": 5}"#,
            ),
            resources: Some(vec![
                ("arn:aws:ec2:::i-1", "111", "AWS::EC2::Instance"),
                ("arn:aws:ec2:::i-2", "111", "AWS::EC2::Instance"),
            ]),
        },
        Row {
            eventname: "DescribeInstances",
            eventtime: recent,
            arn: Some(SPIN),
            errorcode: Some("AccessDenied"),
            params: None,
            resources: Some(vec![]),
        },
        Row {
            eventname: "GetObject",
            eventtime: "2024-07-30T21:31:21Z",
            arn: Some(SPIN),
            errorcode: None,
            params: Some(r#"{"bucketName": "b1", "key": "k"}"#),
            resources: None,
        },
        Row {
            eventname: "PutObject",
            eventtime: "2024-07-30T21:31:21Z",
            arn: Some("arn:aws:iam::123456789012:user/alice"),
            errorcode: None,
            params: Some("not json"),
            resources: Some(vec![("arn:aws:s3:::b2", "222", "AWS::S3::Bucket")]),
        },
    ]
}

fn batch() -> RecordBatch {
    let schema = table_schema();
    let rows = rows();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for field in schema.fields() {
        let array: ArrayRef = match field.name().as_str() {
            "eventname" => text(rows.iter().map(|r| Some(r.eventname))),
            "eventtime" => text(rows.iter().map(|r| Some(r.eventtime))),
            "errorcode" => text(rows.iter().map(|r| r.errorcode)),
            "requestparameters" => text(rows.iter().map(|r| r.params)),
            "day" => text(rows.iter().map(|_| Some("2024/07/30"))),
            "resources" => resources(&rows, field.data_type()),
            "useridentity" => user_identity(&rows, field.data_type()),
            _ => datafusion::arrow::array::new_null_array(field.data_type(), rows.len()),
        };
        columns.push(array);
    }
    RecordBatch::try_new(schema, columns).expect("batch")
}

fn text<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn resources(rows: &[Row], dt: &DataType) -> ArrayRef {
    let DataType::List(item) = dt else {
        panic!("resources type")
    };
    let DataType::Struct(fields) = item.data_type() else {
        panic!("item type")
    };
    let sb = StructBuilder::from_fields(fields.clone(), 0);
    let mut lb = ListBuilder::new(sb).with_field(item.clone());
    for r in rows {
        match &r.resources {
            None => lb.append(false),
            Some(items) => {
                for (arn, acct, ty) in items {
                    let s = lb.values();
                    for (i, v) in [arn, acct, ty].iter().enumerate() {
                        s.field_builder::<StringBuilder>(i)
                            .expect("field")
                            .append_value(v);
                    }
                    s.append(true);
                }
                lb.append(true);
            }
        }
    }
    Arc::new(lb.finish())
}

fn user_identity(rows: &[Row], dt: &DataType) -> ArrayRef {
    let DataType::Struct(fields) = dt else {
        panic!("useridentity type")
    };
    let arn_index = fields.iter().position(|f| f.name() == "arn").expect("arn");
    let mut children: Vec<ArrayRef> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i == arn_index {
            children.push(text(rows.iter().map(|r| r.arn)));
        } else {
            children.push(datafusion::arrow::array::new_null_array(
                f.data_type(),
                rows.len(),
            ));
        }
    }
    Arc::new(datafusion::arrow::array::StructArray::new(
        Fields::from(
            fields
                .iter()
                .map(|f| f.as_ref().clone())
                .collect::<Vec<Field>>(),
        ),
        children,
        None,
    ))
}

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_default_catalog_and_schema("awsdatacatalog", "default"),
    );
    register_trino_functions(&ctx).expect("register");
    let table = MemTable::try_new(table_schema(), vec![vec![batch()]]).expect("memtable");
    ctx.register_table("cloudtrail_logs", Arc::new(table))
        .expect("register table");
    ctx
}

async fn run(sql: &str) -> Result<Vec<RecordBatch>, Error> {
    let ctx = context();
    let plan = plan_query(&ctx, sql).await?;
    let df = ctx.execute_logical_plan(plan).await?;
    Ok(df.collect().await?)
}

/// All rows as strings ("NULL" for null), columns joined by "|".
async fn rows_of(sql: &str) -> Vec<String> {
    let batches = run(sql)
        .await
        .unwrap_or_else(|e| panic!("query failed: {sql}\n{e}"));
    let mut out = Vec::new();
    let opts = FormatOptions::default().with_null("NULL");
    for b in &batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("fmt"))
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                fmts.iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

async fn one(sql: &str) -> String {
    let r = rows_of(sql).await;
    assert_eq!(r.len(), 1, "{sql}: {r:?}");
    r[0].clone()
}

async fn err(sql: &str) -> Error {
    match run(sql).await {
        Ok(b) => panic!("expected an error for {sql}, got {} batches", b.len()),
        Err(e) => e,
    }
}

async fn field_type(sql: &str, i: usize) -> DataType {
    let ctx = context();
    let plan = plan_query(&ctx, sql).await.expect("plan");
    plan.schema().field(i).data_type().clone()
}

#[tokio::test]
async fn reference_query() {
    let sql = r#"SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM "default"."cloudtrail_logs"
WHERE useridentity.arn = 'arn:aws:sts::123456789012:assumed-role/SpinnakerManagedCA/Spinnaker'
        AND from_iso8601_timestamp(eventtime) > date_add('hour', -1, now())
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc"#;
    let ctx = context();
    let plan = plan_query(&ctx, sql).await.expect("plan");
    assert_eq!(plan.schema().field(0).name(), "total");
    assert_eq!(plan.schema().field(0).data_type(), &DataType::Int64);
    let mut r = rows_of(sql).await;
    r.sort();
    assert_eq!(
        r,
        vec![
            "1|DescribeInstances|AccessDenied|NULL",
            "1|DescribeInstances|NULL|NULL"
        ]
    );
    // Also with interval arithmetic and a trailing semicolon.
    let r = one("SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) > now() - interval '1' hour;").await;
    assert_eq!(r, "2");
    let r = one("SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) > current_timestamp - interval '1' hour").await;
    assert_eq!(r, "2");
}

#[tokio::test]
async fn trino_column_names() {
    let ctx = context();
    let plan = plan_query(
        &ctx,
        "SELECT eventname, count(*), useridentity.arn, c.day FROM cloudtrail_logs c GROUP BY 1, 3, 4 ORDER BY count(*) DESC",
    )
    .await
    .expect("plan");
    let names: Vec<&str> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, vec!["eventname", "_col1", "arn", "day"]);
    let r = rows_of("SELECT eventname, count(*) FROM cloudtrail_logs GROUP BY eventname ORDER BY count(*) DESC, 1 LIMIT 1").await;
    assert_eq!(r, vec!["DescribeInstances|2"]);
}

#[tokio::test]
async fn identifiers_are_case_insensitive() {
    assert_eq!(
        one(r#"SELECT "eventName", EVENTNAME AS "MyName" FROM awsdatacatalog."default".cloudtrail_logs WHERE eventname = 'GetObject'"#).await,
        "GetObject|GetObject"
    );
    let ctx = context();
    let plan = plan_query(&ctx, r#"SELECT eventname AS "MyName" FROM cloudtrail_logs"#)
        .await
        .expect("plan");
    assert_eq!(plan.schema().field(0).name(), "myname");
    assert_eq!(
        one(r#"SELECT "UserIdentity"."ARN" FROM CloudTrail_Logs WHERE EventName = 'PutObject'"#)
            .await,
        "arn:aws:iam::123456789012:user/alice"
    );
}

#[tokio::test]
async fn unnest_cross_join_fields_by_position() {
    let mut r = rows_of("SELECT a.eventname, t.arn, t.acct, type FROM cloudtrail_logs a CROSS JOIN UNNEST(a.resources) AS t(arn, acct, type)").await;
    r.sort();
    assert_eq!(
        r,
        vec![
            "DescribeInstances|arn:aws:ec2:::i-1|111|AWS::EC2::Instance",
            "DescribeInstances|arn:aws:ec2:::i-2|111|AWS::EC2::Instance",
            "PutObject|arn:aws:s3:::b2|222|AWS::S3::Bucket",
        ]
    );
}

#[tokio::test]
async fn unnest_single_column_is_the_element() {
    let mut r = rows_of("SELECT eventname, u.entry.arn, u.entry['type'] FROM cloudtrail_logs CROSS JOIN UNNEST(resources) AS u(entry) WHERE u.entry.accountid = '111'").await;
    r.sort();
    assert_eq!(
        r,
        vec![
            "DescribeInstances|arn:aws:ec2:::i-1|AWS::EC2::Instance",
            "DescribeInstances|arn:aws:ec2:::i-2|AWS::EC2::Instance",
        ]
    );
}

#[tokio::test]
async fn unnest_without_left_alias_and_comma_form() {
    let r = rows_of("SELECT cloudtrail_logs.eventname, t.arn FROM cloudtrail_logs CROSS JOIN UNNEST(resources) AS t(arn, accountid, type) ORDER BY t.arn").await;
    assert_eq!(r.len(), 3);
    assert_eq!(r[2], "PutObject|arn:aws:s3:::b2");
    let r = rows_of("SELECT c.eventname, t.arn FROM \"default\".cloudtrail_logs c, UNNEST(c.resources) AS t(arn, accountid, type) ORDER BY 2").await;
    assert_eq!(r.len(), 3);
    let r = rows_of(
        "SELECT count(*) AS n FROM cloudtrail_logs CROSS JOIN LATERAL UNNEST(resources) AS t(r)",
    )
    .await;
    assert_eq!(r, vec!["3"]);
    // Aggregation over the expanded rows, with a CTE around it.
    let r = rows_of("WITH x AS (SELECT eventname, resources FROM cloudtrail_logs) SELECT t.type, count(*) AS n FROM x CROSS JOIN UNNEST(resources) AS t(arn, accountid, type) GROUP BY t.type ORDER BY n DESC").await;
    assert_eq!(r, vec!["AWS::EC2::Instance|2", "AWS::S3::Bucket|1"]);
    // SELECT * has the left columns and then the unnest columns.
    let ctx = context();
    let plan = plan_query(
        &ctx,
        "SELECT * FROM cloudtrail_logs CROSS JOIN UNNEST(resources) AS t(r)",
    )
    .await
    .expect("plan");
    assert_eq!(
        plan.schema().fields().len(),
        table_schema().fields().len() + 1
    );
}

#[tokio::test]
async fn subscript_then_dot() {
    let mut r = rows_of("SELECT resources[1].arn, element_at(resources, -1).type FROM cloudtrail_logs WHERE cardinality(resources) > 0").await;
    r.sort();
    assert_eq!(
        r,
        vec![
            "arn:aws:ec2:::i-1|AWS::EC2::Instance",
            "arn:aws:s3:::b2|AWS::S3::Bucket"
        ]
    );
}

#[tokio::test]
async fn unsupported_constructs_are_named() {
    let e = err(
        "SELECT * FROM cloudtrail_logs CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(r, n)",
    )
    .await;
    assert!(
        matches!(&e, Error::Sql(m) if m.contains("WITH ORDINALITY") && m.contains("local engine")),
        "{e}"
    );
    let e = err("SELECT * FROM cloudtrail_logs LEFT JOIN UNNEST(resources) AS t(r) ON true").await;
    assert!(
        matches!(&e, Error::Sql(m) if m.contains("LEFT JOIN UNNEST") && m.contains("local engine")),
        "{e}"
    );
    let e = err("INSERT INTO cloudtrail_logs SELECT * FROM cloudtrail_logs").await;
    assert!(matches!(&e, Error::Sql(m) if m.contains("INSERT")), "{e}");
}

#[tokio::test]
async fn syntax_error_has_position() {
    let e = err("SELECT eventname FROM cloudtrail_logs WHERE\n  AND x").await;
    match e {
        Error::Sql(m) => {
            assert!(m.contains("SQL syntax error"), "{m}");
            assert!(m.contains("Line: 2") && m.contains("Column: 7"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_function_is_named() {
    match err("SELECT levenshtein_distance2(eventname) FROM cloudtrail_logs").await {
        Error::UnsupportedFunction { name, .. } => assert_eq!(name, "levenshtein_distance2"),
        other => panic!("{other:?}"),
    }
    match err("SELECT approx_set(eventname) FROM cloudtrail_logs").await {
        Error::UnsupportedFunction { name, hint } => {
            assert_eq!(name, "approx_set");
            assert!(hint.contains("approx_distinct"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    match err("SELECT try(approx_set(eventname)) FROM cloudtrail_logs").await {
        Error::UnsupportedFunction { name, .. } => assert_eq!(name, "approx_set"),
        other => panic!("{other:?}"),
    }
    // DataFusion's nearest name is not offered unless it is a close Trino name.
    match err("SELECT parse_durations('1d')").await {
        Error::UnsupportedFunction { name, hint } => {
            assert_eq!(name, "parse_durations");
            assert!(hint.contains("not an Athena (Trino) function"), "{hint}");
            assert!(hint.ends_with("(did you mean parse_duration?)"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    // A DataFusion function that Athena does not have is refused like any unknown name.
    match err("SELECT to_timestamp(eventtime) FROM cloudtrail_logs").await {
        Error::UnsupportedFunction { name, hint } => {
            assert_eq!(name, "to_timestamp");
            assert!(hint.contains("from_iso8601_timestamp"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    match err("SELECT qwertyuiop(1)").await {
        Error::UnsupportedFunction { hint, .. } => {
            assert!(!hint.contains("did you mean"), "{hint}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn messages_use_trino_types() {
    match err("SELECT requestparameters.bucketname FROM cloudtrail_logs").await {
        Error::Sql(m) => {
            assert!(
                m.contains("json_extract_scalar(requestparameters, '$.bucketname')"),
                "{m}"
            );
            assert!(!m.contains("Utf8") && !m.contains("get_field"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    match err("SELECT date_parse(1, '%Y')").await {
        Error::Sql(m) => assert!(
            m.starts_with("Unexpected parameters (bigint, varchar) for function date_parse. Expected: date_parse(varchar, varchar format)"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    match err("SELECT upper(1)").await {
        Error::Sql(m) => assert_eq!(
            m,
            "Unexpected parameters (bigint) for function upper. Expected: upper(varchar)"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn parse_and_format_functions() {
    assert_eq!(
        one("SELECT date_parse('2024-07-30 21:31:21', '%Y-%m-%d %H:%i:%s'), to_iso8601(parse_datetime('2024-07-30T23:31:21+02:00', 'yyyy-MM-dd''T''HH:mm:ssZZ')), format_datetime(from_iso8601_timestamp('2024-07-30T21:31:21.5Z'), 'yyyy/MM/dd HH:mm:ss.SS')").await,
        "2024-07-30T21:31:21|2024-07-30T21:31:21.000Z|2024/07/30 21:31:21.50"
    );
    assert_eq!(
        field_type("SELECT date_parse('2024', '%Y')", 0).await,
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None)
    );
    assert_eq!(
        one("SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) > now() - parse_duration('1d')").await,
        "2"
    );
    assert_eq!(
        one("SELECT replace('a-b-c', '-'), replace('a-b', '-', '+')").await,
        "abc|a+b"
    );
    assert_eq!(
        one("SELECT max_by(eventname, eventtime, 2), min_by(eventname, eventtime, 1) FROM cloudtrail_logs WHERE eventname <> 'PutObject'").await,
        "[DescribeInstances, DescribeInstances]|[GetObject]"
    );
}

#[tokio::test]
async fn try_catches_errors() {
    assert_eq!(
        one("SELECT try(CAST('abc' AS integer)), try(5 / 0), try(5 % 0), try(from_iso8601_timestamp('garbage')), try(10 / 2)").await,
        "NULL|NULL|NULL|NULL|5"
    );
    assert_eq!(
        one("SELECT count(try(from_iso8601_timestamp(requestparameters))) FROM cloudtrail_logs")
            .await,
        "0"
    );
    assert_eq!(
        one("SELECT try(json_extract_scalar('{}', 'bad path')), try(date_add('eon', 1, now()))")
            .await,
        "NULL|NULL"
    );
    match err("SELECT from_iso8601_timestamp('garbage')").await {
        Error::Sql(m) => assert!(
            m.contains("from_iso8601_timestamp: 'garbage' is not an ISO-8601 timestamp"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn if_and_count_if() {
    assert_eq!(
        one("SELECT if(1 > 0, 'y', 'n'), if(1 < 0, 'y'), if(NULL, 1, 2)").await,
        "y|NULL|2"
    );
    assert_eq!(
        one("SELECT count_if(errorcode IS NOT NULL), count_if(eventname LIKE 'Describe%') FROM cloudtrail_logs").await,
        "1|2"
    );
    assert_eq!(
        one("SELECT count_if(errorcode = 'x') FROM cloudtrail_logs WHERE false").await,
        "0"
    );
    assert_eq!(
        field_type("SELECT count_if(true) FROM cloudtrail_logs", 0).await,
        DataType::Int64
    );
}

#[tokio::test]
async fn aggregates() {
    assert_eq!(
        one("SELECT approx_distinct(eventname), arbitrary(day), approx_percentile(x, 0.5) FROM cloudtrail_logs, (VALUES (1.0), (2.0), (3.0)) AS v(x)").await,
        "3|2024/07/30|2.0"
    );
    assert_eq!(
        field_type("SELECT approx_distinct(eventname) FROM cloudtrail_logs", 0).await,
        DataType::Int64
    );
    assert_eq!(
        field_type("SELECT cardinality(resources) FROM cloudtrail_logs", 0).await,
        DataType::Int64
    );
    assert_eq!(
        one("SELECT approx_percentile(x, ARRAY[0.0, 1.0]) FROM (VALUES (1.0), (3.0)) AS v(x)")
            .await,
        "[1.0, 3.0]"
    );
    // Trino keeps the input's type: bigint in, bigint out (a value, not an interpolation).
    assert_eq!(
        field_type(
            "SELECT approx_percentile(x, 0.5) FROM (VALUES (1), (2), (4)) AS v(x)",
            0
        )
        .await,
        DataType::Int64
    );
    assert_eq!(
        one("SELECT approx_percentile(x, 0.5), approx_percentile(x, ARRAY[0.0, 1.0]) FROM (VALUES (1), (2), (4)) AS v(x)").await,
        "2|[1, 4]"
    );
    assert_eq!(
        field_type(
            "SELECT approx_percentile(x, 0.5) FROM (VALUES (CAST(1.5 AS REAL))) AS v(x)",
            0
        )
        .await,
        DataType::Float32
    );
    assert_eq!(
        one("SELECT max_by(eventname, eventtime), min_by(eventname, eventtime) FROM cloudtrail_logs WHERE eventname <> 'PutObject'").await,
        "DescribeInstances|GetObject"
    );
}

#[tokio::test]
async fn array_and_string_functions() {
    assert_eq!(
        one("SELECT element_at(ARRAY[1,2,3], 1), element_at(ARRAY[1,2,3], -1), element_at(ARRAY[1,2,3], 5), element_at(ARRAY[1,2,3], -5)").await,
        "1|3|NULL|NULL"
    );
    assert_eq!(
        one("SELECT element_at(MAP(['a', 'b'], [1, 2]), 'b'), element_at(MAP(['a'], [1]), 'z')")
            .await,
        "2|NULL"
    );
    assert_eq!(
        one("SELECT contains(ARRAY['a','b'], 'b'), contains(ARRAY['a'], 'c'), contains(CAST(NULL AS VARCHAR[]), 'a')").await,
        "true|false|NULL"
    );
    assert_eq!(
        one(
            "SELECT array_join(ARRAY['a', NULL, 'b'], ','), array_join(ARRAY['a', NULL], ',', 'x')"
        )
        .await,
        "a,b|a,x"
    );
    assert_eq!(
        one("SELECT split_part('a,b,c', ',', 2), split_part('a,b', ',', 5), split_part(NULL, ',', 1)")
            .await,
        "b|NULL|NULL"
    );
    assert_eq!(
        one("SELECT strpos('abc', 'c'), strpos('abc', 'z'), regexp_like('abc', 'b'), regexp_extract('a1b22', '\\d+'), regexp_extract('a1b22', '([a-z])(\\d+)', 2), regexp_extract('abc', '\\d')").await,
        "3|0|true|1|1|NULL"
    );
    assert_eq!(
        one("SELECT regexp_replace('a1b2', '\\d'), regexp_replace('a1b2', '(\\d)', '<$1>'), lower('AbC'), upper('abc'), coalesce(NULL, 'x')").await,
        "ab|a<1>b<2>|abc|ABC|x"
    );
    assert_eq!(
        one("SELECT concat('a', 'b', 'c'), concat('a', NULL), length('abc'), split('a,b', ',')")
            .await,
        "abc|NULL|3|[a, b]"
    );
    assert_eq!(
        field_type("SELECT strpos('a', 'a')", 0).await,
        DataType::Int64
    );
}

#[tokio::test]
async fn time_functions() {
    assert_eq!(
        one("SELECT to_iso8601(from_iso8601_timestamp('2024-07-30T21:31:21Z')), to_iso8601(from_iso8601_timestamp('2024-07-30T23:31:21.123+02:00')), to_iso8601(from_iso8601_timestamp('2024-07-30'))").await,
        "2024-07-30T21:31:21.000Z|2024-07-30T21:31:21.123Z|2024-07-30T00:00:00.000Z"
    );
    assert_eq!(
        field_type("SELECT from_iso8601_timestamp('2024-07-30T21:31:21Z')", 0).await,
        DataType::Timestamp(
            datafusion::arrow::datatypes::TimeUnit::Millisecond,
            Some("UTC".into())
        )
    );
    assert!(matches!(
        err("SELECT from_iso8601_timestamp('2024-07-30 21:31:21')").await,
        Error::Sql(_)
    ));
    assert_eq!(
        one("SELECT from_iso8601_date('2024-07-30'), to_iso8601(from_iso8601_date('2024-07-30')), from_iso8601_timestamp(NULL)").await,
        "2024-07-30|2024-07-30|NULL"
    );
    assert_eq!(
        one("SELECT to_iso8601(date_add('month', 1, from_iso8601_timestamp('2024-01-31T10:00:00Z'))), date_add('month', 1, DATE '2023-01-31'), date_add('day', -1, DATE '2024-03-01'), to_iso8601(date_add('hour', -1, from_iso8601_timestamp('2024-07-30T00:30:00Z'))), date_add('year', 1, DATE '2024-02-29'), to_iso8601(date_add('quarter', 1, from_iso8601_timestamp('2024-11-30T00:00:00Z')))").await,
        "2024-02-29T10:00:00.000Z|2023-02-28|2024-02-29|2024-07-29T23:30:00.000Z|2025-02-28|2025-02-28T00:00:00.000Z"
    );
    assert_eq!(
        one("SELECT date_diff('day', from_iso8601_timestamp('2024-07-01T00:00:00Z'), from_iso8601_timestamp('2024-07-30T12:00:00Z')), date_diff('month', DATE '2024-01-31', DATE '2024-02-29'), date_diff('hour', from_iso8601_timestamp('2024-07-30T12:00:00Z'), from_iso8601_timestamp('2024-07-30T10:30:00Z')), date_diff('year', DATE '2020-02-29', DATE '2024-02-28')").await,
        "29|1|-1|3"
    );
    assert_eq!(
        one("SELECT date_format(from_iso8601_timestamp('2024-07-05T21:03:09.120Z'), '%Y-%m-%d %H:%i:%s %W %%')").await,
        "2024-07-05 21:03:09 Friday %"
    );
    match err("SELECT date_format(now(), '%D')").await {
        Error::Sql(m) => assert!(m.contains("%D"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one("SELECT to_iso8601(from_unixtime(1722375081.5)), to_unixtime(from_iso8601_timestamp('2024-07-30T21:31:21.500Z'))").await,
        "2024-07-30T21:31:21.500Z|1722375081.5"
    );
    assert_eq!(
        one("SELECT date(from_iso8601_timestamp('2024-07-30T21:31:21Z')), CAST(from_iso8601_timestamp('2024-07-30T21:31:21Z') AS date), year(from_iso8601_timestamp('2024-07-30T21:31:21Z')), day_of_week(DATE '2024-07-28'), hour(from_iso8601_timestamp('2024-07-30T21:31:21Z'))").await,
        "2024-07-30|2024-07-30|2024|7|21"
    );
    assert_eq!(
        one("SELECT to_iso8601(date_trunc('week', from_iso8601_timestamp('2024-07-31T10:00:00Z'))), to_iso8601(date_trunc('quarter', from_iso8601_timestamp('2024-08-31T10:00:00Z')))").await,
        "2024-07-29T00:00:00.000Z|2024-07-01T00:00:00.000Z"
    );
    assert_eq!(
        one("SELECT date_add('day', 1, NULL), date_diff('day', NULL, now()), to_iso8601(NULL)")
            .await,
        "NULL|NULL|NULL"
    );
}

#[tokio::test]
async fn json_functions() {
    let mut r = rows_of("SELECT eventname, json_extract_scalar(requestparameters, '$.instancesSet.items[1].instanceId'), json_extract_scalar(requestparameters, '$[\"a.b\"]'), json_extract_scalar(requestparameters, '$.n'), json_extract_scalar(requestparameters, '$.bucketName') FROM cloudtrail_logs").await;
    r.sort();
    assert_eq!(
        r,
        vec![
            "DescribeInstances|NULL|NULL|NULL|NULL",
            "DescribeInstances|i-2|dot|5|NULL",
            "GetObject|NULL|NULL|NULL|b1",
            "PutObject|NULL|NULL|NULL|NULL",
        ]
    );
    assert_eq!(
        one(r#"SELECT json_extract('{"a": {"b": [1, 2]}}', '$.a'), json_extract('{"a": "x"}', '$.a'), json_extract('{"a": 1}', '$.z'), json_extract_scalar('{"a": {"b": 1}}', '$.a'), json_extract_scalar('{"a": true}', '$.a'), json_extract_scalar('[1, "two"]', '$[1]')"#).await,
        r#"{"b":[1,2]}|"x"|NULL|NULL|true|two"#
    );
    assert_eq!(
        one(r#"SELECT json_array_length('[1, 2, [3]]'), json_array_length('{}'), json_array_length('oops'), json_size('{"a": {"b": 1, "c": 2}}', '$.a'), json_size('{"a": 1}', '$.a'), json_parse('{"a": 1}'), json_format('[1, 2]')"#).await,
        r#"3|NULL|NULL|2|0|{"a":1}|[1,2]"#
    );
    assert_eq!(
        field_type("SELECT json_array_length('[]')", 0).await,
        DataType::Int64
    );
    match err("SELECT json_extract_scalar(requestparameters, 'a.b') FROM cloudtrail_logs").await {
        Error::Sql(m) => assert!(
            m.contains("json_extract_scalar") && m.contains("a.b"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(one("SELECT json_extract_scalar(NULL, '$.a')").await, "NULL");
}
