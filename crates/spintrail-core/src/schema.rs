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

/// The full table: record columns followed by the partition columns.
pub fn table_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields: Vec<Field> = record_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.extend(PARTITION_COLUMNS.iter().map(|n| text(n)));
            Arc::new(Schema::new(fields))
        })
        .clone()
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
        for f in table.fields() {
            assert_eq!(
                f.name(),
                &f.name().to_lowercase(),
                "column names are lower case"
            );
        }
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
