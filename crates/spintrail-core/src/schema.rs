//! The CloudTrail table contract: the columns of AWS's current Athena CloudTrail table (lower-case
//! names, JSON subtrees as text, `readonly` as a string) plus the partition columns. One source of
//! truth for the embedded reader and for the Glue table definition.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

/// Partition columns, in table order, appended after the record columns.
pub const PARTITION_COLUMNS: [&str; 3] = ["account", "region", "day"];

/// Columns whose JSON value is kept as JSON text (Athena declares them STRING).
pub const JSON_TEXT_COLUMNS: [&str; 5] = [
    "requestparameters",
    "responseelements",
    "additionaleventdata",
    "serviceeventdetails",
    "edgedevicedetails",
];

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn structure(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

fn texts(names: &[&str]) -> Vec<Field> {
    names.iter().map(|n| text(n)).collect()
}

/// The `useridentity` struct, members as in the Athena table definition.
fn user_identity() -> Field {
    let attributes_map = Field::new(
        "attributes",
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Utf8, true),
                ])),
                false,
            )),
            false,
        ),
        true,
    );
    let session_context = structure(
        "sessioncontext",
        vec![
            structure("attributes", texts(&["mfaauthenticated", "creationdate"])),
            structure(
                "sessionissuer",
                texts(&["type", "principalid", "arn", "accountid", "username"]),
            ),
            text("ec2roledelivery"),
            structure(
                "webidfederationdata",
                vec![text("federatedprovider"), attributes_map],
            ),
        ],
    );
    let mut fields = texts(&[
        "type",
        "principalid",
        "arn",
        "accountid",
        "invokedby",
        "accesskeyid",
        "username",
    ]);
    fields.push(structure(
        "onbehalfof",
        texts(&["userid", "identitystorearn"]),
    ));
    fields.push(session_context);
    structure("useridentity", fields)
}

fn resources() -> Field {
    let item = Field::new(
        "item",
        DataType::Struct(Fields::from(texts(&["arn", "accountid", "type"]))),
        true,
    );
    Field::new("resources", DataType::List(Arc::new(item)), true)
}

/// The 29 record columns, in the order of the AWS documentation.
pub fn record_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields = vec![
                text("eventversion"),
                user_identity(),
                text("eventtime"),
                text("eventsource"),
                text("eventname"),
                text("awsregion"),
                text("sourceipaddress"),
                text("useragent"),
                text("errorcode"),
                text("errormessage"),
                text("requestparameters"),
                text("responseelements"),
                text("additionaleventdata"),
                text("requestid"),
                text("eventid"),
                resources(),
                text("eventtype"),
                text("apiversion"),
                text("readonly"),
                text("recipientaccountid"),
                text("serviceeventdetails"),
                text("sharedeventid"),
                text("vpcendpointid"),
                text("vpcendpointaccountid"),
                text("eventcategory"),
                structure(
                    "addendum",
                    texts(&[
                        "reason",
                        "updatedfields",
                        "originalrequestid",
                        "originaleventid",
                    ]),
                ),
                text("sessioncredentialfromconsole"),
                text("edgedevicedetails"),
                structure(
                    "tlsdetails",
                    texts(&["tlsversion", "ciphersuite", "clientprovidedhostheader"]),
                ),
            ];
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The full table of the default layout: record columns followed by `account`, `region`, `day`.
pub fn table_schema() -> SchemaRef {
    table_schema_for(PartitionLayout::default())
}

/// The full table: record columns followed by the layout's partition columns.
pub fn table_schema_for(layout: PartitionLayout) -> SchemaRef {
    static SCHEMAS: [OnceLock<SchemaRef>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    SCHEMAS[layout as usize]
        .get_or_init(|| {
            let mut fields: Vec<Field> = record_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.extend(layout.columns().iter().map(|n| text(n)));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Which partition columns the table has. Every layout is computed from the same three facts of a
/// log file (account, region, day); the layouts of AWS's documentation let queries written for
/// those tables run unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionLayout {
    /// `account`, `region`, `day` (`yyyy/MM/dd`): spintrail's table, projected over accounts and
    /// regions.
    #[default]
    Spintrail = 0,
    /// `timestamp` (`yyyy/MM/dd`): the Athena user guide's partition-projection table
    /// (`cloudtrail_logs_pp`, one account and one region).
    AwsProjection = 1,
    /// `region`, `year`, `month`, `day` (`yyyy`, `MM`, `dd`): the Athena user guide's manually
    /// partitioned table (one account).
    AwsManual = 2,
}

impl PartitionLayout {
    /// Every layout, as its option text names it.
    pub const ALL: [PartitionLayout; 3] = [
        PartitionLayout::Spintrail,
        PartitionLayout::AwsProjection,
        PartitionLayout::AwsManual,
    ];

    /// The option's text: `"spintrail"`, `"aws-projection"` or `"aws-manual"`.
    pub fn name(self) -> &'static str {
        match self {
            PartitionLayout::Spintrail => "spintrail",
            PartitionLayout::AwsProjection => "aws-projection",
            PartitionLayout::AwsManual => "aws-manual",
        }
    }

    /// Parses the option's text.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == text)
            .ok_or_else(|| {
                crate::Error::InvalidArgument(format!(
                    "partitions must be one of {}, not {text:?}",
                    Self::ALL
                        .iter()
                        .map(|l| format!("{:?} ({})", l.name(), l.columns().join(", ")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The partition columns, in table order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            PartitionLayout::Spintrail => &PARTITION_COLUMNS,
            PartitionLayout::AwsProjection => &["timestamp"],
            PartitionLayout::AwsManual => &["region", "year", "month", "day"],
        }
    }

    /// The value of partition column `index` for a file of `account`, `region` and `day`
    /// (`yyyy/MM/dd`).
    pub fn value<'a>(
        self,
        index: usize,
        account: Option<&'a str>,
        region: Option<&'a str>,
        day: Option<&'a str>,
    ) -> Option<&'a str> {
        let part = |range: std::ops::Range<usize>| day.and_then(|d| d.get(range));
        match (self, index) {
            (PartitionLayout::Spintrail, 0) => account,
            (PartitionLayout::Spintrail, 1) | (PartitionLayout::AwsManual, 0) => region,
            (PartitionLayout::Spintrail, 2) | (PartitionLayout::AwsProjection, 0) => day,
            (PartitionLayout::AwsManual, 1) => part(0..4),
            (PartitionLayout::AwsManual, 2) => part(5..7),
            (PartitionLayout::AwsManual, 3) => part(8..10),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_29_columns_and_partitions() {
        assert_eq!(record_schema().fields().len(), 29);
        let table = table_schema();
        assert_eq!(table.fields().len(), 32);
        assert_eq!(table.field(29).name(), "account");
        assert_eq!(table.field(31).name(), "day");
        assert_eq!(table_schema_for(PartitionLayout::Spintrail), table);
        for f in table.fields() {
            assert_eq!(
                f.name(),
                &f.name().to_lowercase(),
                "column names are lower case"
            );
        }
    }

    #[test]
    fn layouts_name_and_compute_their_columns() {
        let pp = table_schema_for(PartitionLayout::AwsProjection);
        assert_eq!(pp.fields().len(), 30);
        assert_eq!(pp.field(29).name(), "timestamp");
        let manual = table_schema_for(PartitionLayout::AwsManual);
        let names: Vec<&str> = manual.fields()[29..]
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["region", "year", "month", "day"]);
        let values: Vec<Option<&str>> = (0..4)
            .map(|i| {
                PartitionLayout::AwsManual.value(
                    i,
                    Some("1"),
                    Some("eu-west-1"),
                    Some("2024/07/30"),
                )
            })
            .collect();
        assert_eq!(
            values,
            [Some("eu-west-1"), Some("2024"), Some("07"), Some("30")]
        );
        for layout in PartitionLayout::ALL {
            assert_eq!(PartitionLayout::parse(layout.name()).unwrap(), layout);
        }
        let err = PartitionLayout::parse("hive").unwrap_err().to_string();
        assert!(
            err.contains("\"aws-manual\" (region, year, month, day)"),
            "{err}"
        );
    }

    #[test]
    fn json_columns_are_text() {
        let s = record_schema();
        for name in JSON_TEXT_COLUMNS {
            assert_eq!(
                s.field_with_name(name).unwrap().data_type(),
                &DataType::Utf8
            );
        }
    }
}
