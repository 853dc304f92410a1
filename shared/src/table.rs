//! The table's definition as data. The local stack and every test create their table from
//! [`definition`], and a test asserts it equals the `AWS::DynamoDB::Table` in `template.yaml`,
//! so what runs locally is what deploys.

use crate::keys;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

/// A key schema: (partition attribute, sort attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub partition: &'static str,
    pub sort: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub key: KeyPair,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub key: KeyPair,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: &'static str,
}

/// All key attributes are strings, all indexes project everything, billing is on demand.
pub fn definition() -> TableDefinition {
    TableDefinition {
        key: KeyPair {
            partition: keys::PK,
            sort: keys::SK,
        },
        indexes: keys::Index::ALL
            .into_iter()
            .map(|index| {
                let (partition, sort) = index.key_attributes();
                IndexDefinition {
                    name: index.name(),
                    key: KeyPair { partition, sort },
                }
            })
            .collect(),
        ttl_attribute: keys::TTL,
    }
}

fn key_schema(pair: &KeyPair) -> Vec<KeySchemaElement> {
    [(pair.partition, KeyType::Hash), (pair.sort, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("name and type are set")
        })
        .collect()
}

impl TableDefinition {
    pub fn attribute_names(&self) -> Vec<&'static str> {
        let mut names = vec![self.key.partition, self.key.sort];
        for index in &self.indexes {
            names.extend([index.key.partition, index.key.sort]);
        }
        names
    }

    /// Creates the table (and turns on TTL) through the real API.
    pub async fn create(
        &self,
        client: &aws_sdk_dynamodb::Client,
        table_name: &str,
    ) -> Result<(), aws_sdk_dynamodb::Error> {
        let mut request = client
            .create_table()
            .table_name(table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&self.key)));
        for name in self.attribute_names() {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("name and type are set"),
            );
        }
        for index in &self.indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .set_key_schema(Some(key_schema(&index.key)))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("name and key schema are set"),
            );
        }
        request.send().await?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(self.ttl_attribute)
                    .build()
                    .expect("attribute and flag are set"),
            )
            .send()
            .await?;
        Ok(())
    }
}
