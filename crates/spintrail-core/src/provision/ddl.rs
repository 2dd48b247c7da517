//! The Glue/Athena table definition, derived from the same schema the embedded engine reads
//! ([`crate::schema`]), and its equivalent `CREATE EXTERNAL TABLE` text.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;

use super::config::Resolved;
use super::{MANAGED_TAG, STACK_TAG};
use crate::schema::{record_schema, PARTITION_COLUMNS};
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
    let partition_keys = PARTITION_COLUMNS
        .iter()
        .map(|c| (c.to_string(), "string".to_string()))
        .collect();
    let location = want.table_location();
    let template = format!("{location}${{account}}/CloudTrail/${{region}}/${{day}}");
    let mut parameters: BTreeMap<String, String> = [
        ("EXTERNAL", "TRUE".to_string()),
        ("classification", "cloudtrail".to_string()),
        ("projection.enabled", "true".to_string()),
        ("projection.account.type", "enum".to_string()),
        ("projection.account.values", want.accounts.join(",")),
        ("projection.region.type", "enum".to_string()),
        ("projection.region.values", want.regions.join(",")),
        ("projection.day.type", "date".to_string()),
        ("projection.day.format", "yyyy/MM/dd".to_string()),
        (
            "projection.day.range",
            format!("{},NOW", want.cfg.projection_start),
        ),
        ("projection.day.interval", "1".to_string()),
        ("projection.day.interval.unit", "DAYS".to_string()),
        ("storage.location.template", template),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
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
}
