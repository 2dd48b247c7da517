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
    type_name(data_type, Dialect::Hive)
}

/// The Presto (Athena) type of an Arrow type, as a view's column list declares it.
pub fn presto_type(data_type: &DataType) -> Result<String> {
    type_name(data_type, Dialect::Presto)
}

/// Whose type names: Hive's (Glue columns, DDL) or Presto's (a view's columns).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Hive,
    Presto,
}

/// An Arrow type's name in `dialect`: Hive spells nested types `struct<a:t>`, `array<t>`,
/// `map<k,v>`; Presto `row(a t)`, `array(t)`, `map(k,v)` and only knows the types of the schema.
fn type_name(data_type: &DataType, dialect: Dialect) -> Result<String> {
    let hive = dialect == Dialect::Hive;
    let nested = |kind: &str, parts: Vec<String>| {
        if hive {
            format!("{kind}<{}>", parts.join(","))
        } else {
            format!("{kind}({})", parts.join(","))
        }
    };
    let scalar = match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Some(if hive { "string" } else { "varchar" })
        }
        _ if !hive => None,
        DataType::Boolean => Some("boolean"),
        DataType::Int8 => Some("tinyint"),
        DataType::Int16 => Some("smallint"),
        DataType::Int32 => Some("int"),
        DataType::Int64 => Some("bigint"),
        DataType::Float32 => Some("float"),
        DataType::Float64 => Some("double"),
        DataType::Date32 => Some("date"),
        DataType::Timestamp(_, _) => Some("timestamp"),
        _ => None,
    };
    if let Some(name) = scalar {
        return Ok(name.into());
    }
    Ok(match data_type {
        DataType::Struct(fields) => {
            let members = fields
                .iter()
                .map(|f| {
                    let member = type_name(f.data_type(), dialect)?;
                    Ok(if hive {
                        format!("{}:{member}", f.name())
                    } else {
                        format!("{} {member}", f.name())
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            nested(if hive { "struct" } else { "row" }, members)
        }
        DataType::List(item) | DataType::LargeList(item) => {
            nested("array", vec![type_name(item.data_type(), dialect)?])
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => nested(
                "map",
                vec![
                    type_name(kv[0].data_type(), dialect)?,
                    type_name(kv[1].data_type(), dialect)?,
                ],
            ),
            other => {
                return Err(Error::Engine(format!(
                    "map entries of type {other} have no {} equivalent",
                    if hive { "Hive" } else { "Athena" }
                )))
            }
        },
        other => {
            return Err(Error::Engine(format!(
                "column type {other} has no {} equivalent",
                if hive { "Hive" } else { "Athena view" }
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

/// How a table's files are read: Glue's classification, the SerDe and the formats.
struct Format {
    classification: &'static str,
    serde: &'static str,
    input_format: &'static str,
    output_format: &'static str,
}

const JSON: Format = Format {
    classification: "cloudtrail",
    serde: SERDE,
    input_format: INPUT_FORMAT,
    output_format: OUTPUT_FORMAT,
};

/// The Parquet SerDe and formats of the table over a compacted copy.
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";

const PARQUET: Format = Format {
    classification: "parquet",
    serde: PARQUET_SERDE,
    input_format: PARQUET_INPUT_FORMAT,
    output_format: PARQUET_OUTPUT_FORMAT,
};

/// A table `name` of the record columns in `format` over `location`, partitioned by
/// `partition_keys` (strings) as `projection` (with its location template) projects them.
fn definition(
    want: &Resolved,
    name: &str,
    format: &Format,
    partition_keys: &[&str],
    location: String,
    projection: Projection,
) -> Result<TableDefinition> {
    let columns = record_schema()
        .fields()
        .iter()
        .map(|f| Ok((f.name().clone(), hive_type(f.data_type())?)))
        .collect::<Result<Vec<_>>>()?;
    let mut parameters: BTreeMap<String, String> = [
        ("EXTERNAL", "TRUE"),
        ("classification", format.classification),
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
        name: name.to_string(),
        columns,
        partition_keys: partition_keys
            .iter()
            .map(|c| (c.to_string(), "string".to_string()))
            .collect(),
        location,
        input_format: format.input_format.into(),
        output_format: format.output_format.into(),
        serde: format.serde.into(),
        parameters,
    })
}

pub(crate) fn table_definition(want: &Resolved) -> Result<TableDefinition> {
    let layout = want.cfg.layout();
    let (location, projection) = match layout {
        PartitionLayout::Spintrail => spintrail_projection(want),
        PartitionLayout::AwsProjection => aws_projection(want)?,
        PartitionLayout::AwsManual => aws_manual(want)?,
    };
    definition(
        want,
        &want.cfg.table,
        &JSON,
        layout.columns(),
        location,
        projection,
    )
}

/// The table over the Parquet copy `spintrail compact` writes (`parquet_location`), if one is
/// configured: the same record columns, partitions `account`, `region`, `day` projected over
/// `account=<id>/region=<r>/day=<yyyy-MM-dd>/` (so `day` reads `yyyy-MM-dd` on this table).
pub(crate) fn parquet_table_definition(want: &Resolved) -> Result<Option<TableDefinition>> {
    let Some(location) = &want.cfg.parquet_location else {
        return Ok(None);
    };
    let location = format!("{}/", location.trim_end_matches('/'));
    let projection = account_region_day(
        want,
        '-',
        format!("{location}account=${{account}}/region=${{region}}/day=${{day}}"),
    );
    definition(
        want,
        &want.cfg.parquet_table,
        &PARQUET,
        &["account", "region", "day"],
        location,
        projection,
    )
    .map(Some)
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

/// A daily date projection of `column` (`yyyy/MM/dd`, or with `separator` between the parts)
/// from the stack's start day to now.
fn daily(want: &Resolved, column: &str, separator: char) -> Projection {
    let format = format!("yyyy{separator}MM{separator}dd");
    let range = format!(
        "{},NOW",
        want.cfg
            .projection_start
            .replace('/', &separator.to_string())
    );
    settings(
        column,
        &[
            ("type", "date"),
            ("format", &format),
            ("range", &range),
            ("interval", "1"),
            ("interval.unit", "DAYS"),
        ],
    )
}

/// `account` and `region` as the configured values, `day` daily (see [`daily`]), files under
/// `template`.
fn account_region_day(want: &Resolved, separator: char, template_text: String) -> Projection {
    let mut projection = settings(
        "account",
        &[("type", "enum"), ("values", &want.accounts.join(","))],
    );
    projection.extend(settings(
        "region",
        &[("type", "enum"), ("values", &want.regions.join(","))],
    ));
    projection.extend(daily(want, "day", separator));
    projection.push(template(template_text));
    projection
}

fn template(location: String) -> (String, String) {
    ("storage.location.template".to_string(), location)
}

/// spintrail's table: every account and region of the trail under `AWSLogs/[<org-id>/]`.
fn spintrail_projection(want: &Resolved) -> (String, Projection) {
    let location = want.table_location();
    let projection = account_region_day(
        want,
        '/',
        format!("{location}${{account}}/CloudTrail/${{region}}/${{day}}"),
    );
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
    let mut projection = daily(want, "timestamp", '/');
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
    Ok(ddl_text(&table_definition(want)?))
}

/// The `CREATE EXTERNAL TABLE` statement of a table definition.
fn ddl_text(def: &TableDefinition) -> String {
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
    format!(
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
    )
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
