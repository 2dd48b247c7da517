//! The Glue/Athena table definition, derived from the same schema the embedded engine reads
//! ([`crate::schema`]), and its equivalent `CREATE EXTERNAL TABLE` text.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;

use super::config::Resolved;
use super::{MANAGED_TAG, STACK_TAG};
use crate::schema::{record_schema, PartitionLayout};
use crate::{Error, Result};

pub const SERDE: &str = "org.apache.hive.hcatalog.data.JsonSerDe";
pub const INPUT_FORMAT: &str = "com.amazon.emr.cloudtrail.CloudTrailInputFormat";
pub const OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

/// The Hive type string of an Arrow type (`string`, `struct<a:string>`, `array<...>`, `map<k,v>`).
pub fn hive_type(data_type: &DataType) -> Result<String> {
    Ok(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Struct(fields) => {
            let members = fields
                .iter()
                .map(|f| Ok(format!("{}:{}", f.name(), hive_type(f.data_type())?)))
                .collect::<Result<Vec<_>>>()?;
            format!("struct<{}>", members.join(","))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            format!("array<{}>", hive_type(item.data_type())?)
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                hive_type(kv[0].data_type())?,
                hive_type(kv[1].data_type())?
            ),
            other => {
                return Err(Error::Engine(format!(
                    "map entries of type {other} have no Hive equivalent"
                )))
            }
        },
        other => {
            return Err(Error::Engine(format!(
                "column type {other} has no Hive equivalent"
            )))
        }
    })
}

/// Everything that defines the table in the Glue Data Catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub database: String,
    pub name: String,
    pub columns: Vec<(String, String)>,
    pub partition_keys: Vec<(String, String)>,
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub serde: String,
    /// Table parameters: projection, location template, spintrail's markers.
    pub parameters: BTreeMap<String, String>,
}

pub(crate) fn table_definition(want: &Resolved) -> Result<TableDefinition> {
    let columns = record_schema()
        .fields()
        .iter()
        .map(|f| Ok((f.name().clone(), hive_type(f.data_type())?)))
        .collect::<Result<Vec<_>>>()?;
    let layout = want.cfg.layout();
    let partition_keys = layout
        .columns()
        .iter()
        .map(|c| (c.to_string(), "string".to_string()))
        .collect();
    let (location, projection) = match layout {
        PartitionLayout::Spintrail => spintrail_projection(want),
        PartitionLayout::AwsProjection => aws_projection(want)?,
        PartitionLayout::AwsManual => aws_manual(want)?,
    };
    let mut parameters: BTreeMap<String, String> = [
        ("EXTERNAL", "TRUE"),
        ("classification", "cloudtrail"),
        ("projection.enabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(projection)
    .collect();
    parameters.insert(MANAGED_TAG.into(), "true".into());
    parameters.insert(STACK_TAG.into(), want.cfg.name.clone());
    Ok(TableDefinition {
        database: want.cfg.database.clone(),
        name: want.cfg.table.clone(),
        columns,
        partition_keys,
        location,
        input_format: INPUT_FORMAT.into(),
        output_format: OUTPUT_FORMAT.into(),
        serde: SERDE.into(),
        parameters,
    })
}

/// The Parquet SerDe and formats of the table over a compacted copy.
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

/// The table over the Parquet copy `spintrail compact` writes (`parquet_location`), if one is
/// configured: the same record columns, partitions `account`, `region`, `day` projected over
/// `account=<id>/region=<r>/day=<yyyy-MM-dd>/` (so `day` reads `yyyy-MM-dd` on this table).
pub(crate) fn parquet_table_definition(want: &Resolved) -> Result<Option<TableDefinition>> {
    let Some(location) = &want.cfg.parquet_location else {
        return Ok(None);
    };
    let location = format!("{}/", location.trim_end_matches('/'));
    let json = table_definition(want)?;
    let mut projection = settings(
        "account",
        &[("type", "enum"), ("values", &want.accounts.join(","))],
    );
    projection.extend(settings(
        "region",
        &[("type", "enum"), ("values", &want.regions.join(","))],
    ));
    let range = format!("{},NOW", want.cfg.projection_start.replace('/', "-"));
    projection.extend(settings(
        "day",
        &[
            ("type", "date"),
            ("format", "yyyy-MM-dd"),
            ("range", &range),
            ("interval", "1"),
            ("interval.unit", "DAYS"),
        ],
    ));
    projection.push(template(format!(
        "{location}account=${{account}}/region=${{region}}/day=${{day}}"
    )));
    let mut parameters: BTreeMap<String, String> = [
        ("EXTERNAL", "TRUE"),
        ("classification", "parquet"),
        ("projection.enabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(projection)
    .collect();
    parameters.insert(MANAGED_TAG.into(), "true".into());
    parameters.insert(STACK_TAG.into(), want.cfg.name.clone());
    Ok(Some(TableDefinition {
        database: json.database,
        name: want.cfg.parquet_table.clone(),
        columns: json.columns,
        partition_keys: ["account", "region", "day"]
            .iter()
            .map(|c| (c.to_string(), "string".to_string()))
            .collect(),
        location,
        input_format: PARQUET_INPUT_FORMAT.into(),
        output_format: PARQUET_OUTPUT_FORMAT.into(),
        serde: PARQUET_SERDE.into(),
        parameters,
    }))
}

/// The Presto (Athena) type of an Arrow type, as a view's column list declares it.
pub fn presto_type(data_type: &DataType) -> Result<String> {
    Ok(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Struct(fields) => {
            let members = fields
                .iter()
                .map(|f| Ok(format!("{} {}", f.name(), presto_type(f.data_type())?)))
                .collect::<Result<Vec<_>>>()?;
            format!("row({})", members.join(","))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            format!("array({})", presto_type(item.data_type())?)
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map({},{})",
                presto_type(kv[0].data_type())?,
                presto_type(kv[1].data_type())?
            ),
            other => {
                return Err(Error::Engine(format!(
                    "map entries of type {other} have no Athena equivalent"
                )))
            }
        },
        other => {
            return Err(Error::Engine(format!(
                "column type {other} has no Athena view equivalent"
            )))
        }
    })
}

/// The duplicate-free view over the JSON table: its name, its SQL and its columns (name, Hive
/// type, Presto type). Each `eventid` once per partition (the first by `eventtime`); the window
/// is partitioned by the partition columns too, so a partition filter on the view still prunes
/// what Athena reads.
pub struct ViewDefinition {
    pub database: String,
    pub name: String,
    pub sql: String,
    pub columns: Vec<(String, String, String)>,
}

pub(crate) fn dedup_view_definition(want: &Resolved) -> Result<ViewDefinition> {
    let layout = want.cfg.layout();
    let mut columns = Vec::new();
    for f in record_schema().fields() {
        columns.push((
            f.name().clone(),
            hive_type(f.data_type())?,
            presto_type(f.data_type())?,
        ));
    }
    for c in layout.columns() {
        columns.push((c.to_string(), "string".into(), "varchar".into()));
    }
    let names = columns
        .iter()
        .map(|(n, _, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let partition_by = std::iter::once("eventid".to_string())
        .chain(layout.columns().iter().map(|c| format!("\"{c}\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let database = want.cfg.database.clone();
    let sql = format!(
        "SELECT {names} FROM (SELECT *, row_number() OVER (PARTITION BY {partition_by} ORDER BY \
         eventtime) AS spintrail_rn FROM \"{database}\".\"{}\") WHERE spintrail_rn = 1 OR \
         eventid IS NULL",
        want.cfg.table
    );
    Ok(ViewDefinition {
        database,
        name: format!("{}_dedup", want.cfg.table),
        sql,
        columns,
    })
}

/// Table parameters that define a partition projection.
type Projection = Vec<(String, String)>;

/// `projection.<column>.<setting>` parameters.
fn settings(column: &str, pairs: &[(&str, &str)]) -> Projection {
    pairs
        .iter()
        .map(|(k, v)| (format!("projection.{column}.{k}"), v.to_string()))
        .collect()
}

/// A `yyyy/MM/dd` date projection of `column` from the stack's start day to now.
fn daily(want: &Resolved, column: &str) -> Projection {
    let range = format!("{},NOW", want.cfg.projection_start);
    settings(
        column,
        &[
            ("type", "date"),
            ("format", "yyyy/MM/dd"),
            ("range", &range),
            ("interval", "1"),
            ("interval.unit", "DAYS"),
        ],
    )
}

fn template(location: String) -> (String, String) {
    ("storage.location.template".to_string(), location)
}

/// spintrail's table: every account and region of the trail under `AWSLogs/[<org-id>/]`.
fn spintrail_projection(want: &Resolved) -> (String, Projection) {
    let location = want.table_location();
    let mut projection = settings(
        "account",
        &[("type", "enum"), ("values", &want.accounts.join(","))],
    );
    projection.extend(settings(
        "region",
        &[("type", "enum"), ("values", &want.regions.join(","))],
    ));
    projection.extend(daily(want, "day"));
    projection.push(template(format!(
        "{location}${{account}}/CloudTrail/${{region}}/${{day}}"
    )));
    (location, projection)
}

/// The one account (and for `aws-projection` the one region) a layout of AWS's examples covers.
fn single<'a>(what: &str, values: &'a [String], layout: PartitionLayout) -> Result<&'a str> {
    match values {
        [one] => Ok(one),
        _ => Err(Error::InvalidArgument(format!(
            "partitions: {:?} (the Athena user guide's table) covers one {what}, but {} are \
             configured ({}): give exactly one, or use partitions = \"spintrail\" (account, \
             region, day) for several",
            layout.name(),
            values.len(),
            values.join(", ")
        ))),
    }
}

/// The user guide's partition-projection table: `timestamp` under one account's one region.
fn aws_projection(want: &Resolved) -> Result<(String, Projection)> {
    let layout = PartitionLayout::AwsProjection;
    let account = single("account", &want.accounts, layout)?;
    let region = single("region", &want.regions, layout)?;
    let location = format!("{}{account}/CloudTrail/{region}/", want.table_location());
    let mut projection = daily(want, "timestamp");
    projection.push(template(format!("{location}${{timestamp}}")));
    Ok((location, projection))
}

/// The user guide's manually partitioned table (`region`, `year`, `month`, `day` under one
/// account), projected instead of added partition by partition: the same columns, no upkeep.
fn aws_manual(want: &Resolved) -> Result<(String, Projection)> {
    let account = single("account", &want.accounts, PartitionLayout::AwsManual)?;
    let location = format!("{}{account}/", want.table_location());
    let start_year = want.cfg.projection_start.get(..4).unwrap_or("2024");
    let mut projection = settings(
        "region",
        &[("type", "enum"), ("values", &want.regions.join(","))],
    );
    projection.extend(settings(
        "year",
        &[
            ("type", "date"),
            ("format", "yyyy"),
            ("range", &format!("{start_year},NOW")),
            ("interval", "1"),
            ("interval.unit", "YEARS"),
        ],
    ));
    for (column, last) in [("month", "12"), ("day", "31")] {
        projection.extend(settings(
            column,
            &[
                ("type", "integer"),
                ("range", &format!("1,{last}")),
                ("digits", "2"),
            ],
        ));
    }
    projection.push(template(format!(
        "{location}CloudTrail/${{region}}/${{year}}/${{month}}/${{day}}"
    )));
    Ok((location, projection))
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `CREATE EXTERNAL TABLE` statement equivalent to the Glue table.
pub(crate) fn create_table(want: &Resolved) -> Result<String> {
    let def = table_definition(want)?;
    let column_lines = def
        .columns
        .iter()
        .map(|(n, t)| format!("  `{n}` {t}"))
        .collect::<Vec<_>>()
        .join(",\n");
    let partitions = def
        .partition_keys
        .iter()
        .map(|(n, t)| format!("`{n}` {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    let properties = def
        .parameters
        .iter()
        .filter(|(k, _)| k.as_str() != "EXTERNAL")
        .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join(",\n");
    Ok(format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS `{}`.`{}` (\n{column_lines}\n)\n\
         PARTITIONED BY ({partitions})\n\
         ROW FORMAT SERDE {}\n\
         STORED AS INPUTFORMAT {}\n\
         OUTPUTFORMAT {}\n\
         LOCATION {}\n\
         TBLPROPERTIES (\n{properties}\n);\n",
        def.database,
        def.name,
        quote(&def.serde),
        quote(&def.input_format),
        quote(&def.output_format),
        quote(&def.location),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::StackConfig;

    fn want(org: bool) -> Resolved {
        let mut cfg = StackConfig {
            bucket: "logs".into(),
            multi_region: false,
            accounts: vec!["111111111111".into(), "222222222222".into()],
            ..StackConfig::default()
        };
        if org {
            cfg.organization = true;
            cfg.org_id = Some("o-abcdefghij".into());
        }
        Resolved::new(cfg, "eu-west-1".into(), "111111111111".into()).unwrap()
    }

    #[test]
    fn hive_types_follow_the_schema() {
        let def = table_definition(&want(false)).unwrap();
        assert_eq!(def.columns.len(), 29);
        let get = |name: &str| {
            def.columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        assert_eq!(get("eventtime"), "string");
        assert_eq!(
            get("resources"),
            "array<struct<arn:string,accountid:string,type:string>>"
        );
        assert_eq!(
            get("tlsdetails"),
            "struct<tlsversion:string,ciphersuite:string,clientprovidedhostheader:string>"
        );
        let identity = get("useridentity");
        assert!(identity.starts_with("struct<type:string,principalid:string,arn:string"));
        assert!(identity.contains(
            "webidfederationdata:struct<federatedprovider:string,attributes:map<string,string>>"
        ));
        assert_eq!(
            def.partition_keys,
            vec![
                ("account".to_string(), "string".to_string()),
                ("region".into(), "string".into()),
                ("day".into(), "string".into())
            ]
        );
    }

    #[test]
    fn projection_for_single_account_and_organization_layouts() {
        let def = table_definition(&want(false)).unwrap();
        assert_eq!(def.location, "s3://logs/AWSLogs/");
        assert_eq!(
            def.parameters["storage.location.template"],
            "s3://logs/AWSLogs/${account}/CloudTrail/${region}/${day}"
        );
        assert_eq!(
            def.parameters["projection.account.values"],
            "111111111111,222222222222"
        );
        assert_eq!(def.parameters["projection.region.values"], "eu-west-1");
        assert_eq!(def.parameters["projection.day.range"], "2024/01/01,NOW");
        let org = table_definition(&want(true)).unwrap();
        assert_eq!(
            org.parameters["storage.location.template"],
            "s3://logs/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${day}"
        );
    }

    fn want_layout(layout: &str, accounts: &[&str], regions: &[&str]) -> Result<Resolved> {
        let cfg = StackConfig {
            bucket: "logs".into(),
            prefix: Some("ct".into()),
            partitions: layout.into(),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            ..StackConfig::default()
        };
        Resolved::new(cfg, "eu-west-1".into(), "111111111111".into())
    }

    #[test]
    fn aws_projection_layout_is_the_user_guides_table() {
        // Multi-region trail, no regions given: the table covers the stack's region.
        let def = table_definition(&want_layout("aws-projection", &[], &[]).unwrap()).unwrap();
        assert_eq!(
            def.partition_keys,
            vec![("timestamp".to_string(), "string".to_string())]
        );
        assert_eq!(
            def.location,
            "s3://logs/ct/AWSLogs/111111111111/CloudTrail/eu-west-1/"
        );
        assert_eq!(
            def.parameters["storage.location.template"],
            "s3://logs/ct/AWSLogs/111111111111/CloudTrail/eu-west-1/${timestamp}"
        );
        assert_eq!(def.parameters["projection.timestamp.type"], "date");
        assert_eq!(def.parameters["projection.timestamp.format"], "yyyy/MM/dd");
        assert_eq!(
            def.parameters["projection.timestamp.range"],
            "2024/01/01,NOW"
        );
        assert!(!def.parameters.contains_key("projection.account.type"));
        let two = want_layout("aws-projection", &[], &["eu-west-1", "us-east-1"]).unwrap();
        let err = table_definition(&two).unwrap_err().to_string();
        assert!(
            err.contains("covers one region, but 2 are configured"),
            "{err}"
        );
    }

    #[test]
    fn aws_manual_layout_projects_region_year_month_day() {
        let want = want_layout("aws-manual", &[], &["eu-west-1", "us-east-1"]).unwrap();
        let def = table_definition(&want).unwrap();
        let keys: Vec<&str> = def.partition_keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["region", "year", "month", "day"]);
        assert_eq!(def.location, "s3://logs/ct/AWSLogs/111111111111/");
        assert_eq!(
            def.parameters["storage.location.template"],
            "s3://logs/ct/AWSLogs/111111111111/CloudTrail/${region}/${year}/${month}/${day}"
        );
        assert_eq!(
            def.parameters["projection.region.values"],
            "eu-west-1,us-east-1"
        );
        assert_eq!(def.parameters["projection.year.format"], "yyyy");
        assert_eq!(def.parameters["projection.year.range"], "2024,NOW");
        assert_eq!(def.parameters["projection.month.digits"], "2");
        assert_eq!(def.parameters["projection.day.range"], "1,31");
        let ddl = create_table(&want).unwrap();
        assert!(ddl.contains(
            "PARTITIONED BY (`region` string, `year` string, `month` string, `day` string)"
        ));
        let two = want_layout("aws-manual", &["111111111111", "222222222222"], &[]).unwrap();
        assert!(table_definition(&two).is_err());
    }

    #[test]
    fn ddl_text() {
        let ddl = create_table(&want(false)).unwrap();
        assert!(
            ddl.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`cloudtrail_logs` (")
        );
        assert!(ddl.contains("  `readonly` string,\n"));
        assert!(ddl.contains("PARTITIONED BY (`account` string, `region` string, `day` string)"));
        assert!(ddl.contains("ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'"));
        assert!(
            ddl.contains("STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'")
        );
        assert!(ddl.contains("LOCATION 's3://logs/AWSLogs/'"));
        assert!(ddl.contains("'projection.day.format'='yyyy/MM/dd'"));
        assert!(ddl.trim_end().ends_with(");"));
    }

    /// The JSON table's DDL and the Parquet table's definition, pinned to the letter.
    #[test]
    fn definitions_pinned() {
        let ddl = create_table(&want(false)).unwrap();
        let pinned = r#"CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`cloudtrail_logs` (
  `eventversion` string,
  `useridentity` struct<type:string,principalid:string,arn:string,accountid:string,invokedby:string,accesskeyid:string,username:string,onbehalfof:struct<userid:string,identitystorearn:string>,sessioncontext:struct<attributes:struct<mfaauthenticated:string,creationdate:string>,sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,username:string>,ec2roledelivery:string,webidfederationdata:struct<federatedprovider:string,attributes:map<string,string>>>>,
  `eventtime` string,
  `eventsource` string,
  `eventname` string,
  `awsregion` string,
  `sourceipaddress` string,
  `useragent` string,
  `errorcode` string,
  `errormessage` string,
  `requestparameters` string,
  `responseelements` string,
  `additionaleventdata` string,
  `requestid` string,
  `eventid` string,
  `resources` array<struct<arn:string,accountid:string,type:string>>,
  `eventtype` string,
  `apiversion` string,
  `readonly` string,
  `recipientaccountid` string,
  `serviceeventdetails` string,
  `sharedeventid` string,
  `vpcendpointid` string,
  `vpcendpointaccountid` string,
  `eventcategory` string,
  `addendum` struct<reason:string,updatedfields:string,originalrequestid:string,originaleventid:string>,
  `sessioncredentialfromconsole` string,
  `edgedevicedetails` string,
  `tlsdetails` struct<tlsversion:string,ciphersuite:string,clientprovidedhostheader:string>
)
PARTITIONED BY (`account` string, `region` string, `day` string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://logs/AWSLogs/'
TBLPROPERTIES (
  'classification'='cloudtrail',
  'projection.account.type'='enum',
  'projection.account.values'='111111111111,222222222222',
  'projection.day.format'='yyyy/MM/dd',
  'projection.day.interval'='1',
  'projection.day.interval.unit'='DAYS',
  'projection.day.range'='2024/01/01,NOW',
  'projection.day.type'='date',
  'projection.enabled'='true',
  'projection.region.type'='enum',
  'projection.region.values'='eu-west-1',
  'spintrail:managed'='true',
  'spintrail:stack'='spintrail',
  'storage.location.template'='s3://logs/AWSLogs/${account}/CloudTrail/${region}/${day}'
);
"#;
        assert_eq!(ddl, pinned);
        let field = |name: &str| {
            record_schema()
                .field_with_name(name)
                .unwrap()
                .data_type()
                .clone()
        };
        assert_eq!(
            presto_type(&field("resources")).unwrap(),
            "array(row(arn varchar,accountid varchar,type varchar))"
        );
        assert!(presto_type(&field("useridentity")).unwrap().contains(
            ",webidfederationdata row(federatedprovider varchar,attributes map(varchar,varchar))))"
        ));
        assert_eq!(
            presto_type(&DataType::Int64).unwrap_err().to_string(),
            Error::Engine("column type Int64 has no Athena view equivalent".into()).to_string()
        );
        assert_eq!(
            hive_type(&DataType::Binary).unwrap_err().to_string(),
            Error::Engine("column type Binary has no Hive equivalent".into()).to_string()
        );
        let mut want = want(true);
        want.cfg.parquet_location = Some("s3://compact/parquet".into());
        let json = table_definition(&want).unwrap();
        let def = parquet_table_definition(&want).unwrap().unwrap();
        assert_eq!(def.columns, json.columns);
        assert_eq!(def.database, "default");
        assert_eq!(def.name, "cloudtrail_parquet");
        assert_eq!(def.location, "s3://compact/parquet/");
        assert_eq!(def.serde, PARQUET_SERDE);
        assert_eq!(def.input_format, PARQUET_INPUT_FORMAT);
        assert_eq!(def.output_format, PARQUET_OUTPUT_FORMAT);
        let keys: Vec<(&str, &str)> = def
            .partition_keys
            .iter()
            .map(|(k, t)| (k.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("account", "string"),
                ("region", "string"),
                ("day", "string")
            ]
        );
        let parameters: Vec<(&str, &str)> = def
            .parameters
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            parameters,
            [
                ("EXTERNAL", "TRUE"),
                ("classification", "parquet"),
                ("projection.account.type", "enum"),
                ("projection.account.values", "111111111111,222222222222"),
                ("projection.day.format", "yyyy-MM-dd"),
                ("projection.day.interval", "1"),
                ("projection.day.interval.unit", "DAYS"),
                ("projection.day.range", "2024-01-01,NOW"),
                ("projection.day.type", "date"),
                ("projection.enabled", "true"),
                ("projection.region.type", "enum"),
                ("projection.region.values", "eu-west-1"),
                ("spintrail:managed", "true"),
                ("spintrail:stack", "spintrail"),
                (
                    "storage.location.template",
                    "s3://compact/parquet/account=${account}/region=${region}/day=${day}"
                ),
            ]
        );
    }
}
