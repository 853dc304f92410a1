//! Update and condition expressions, built from attribute names and values rather than written
//! by hand: placeholders (`#n0`, `:v0`) are allocated here, values go through serde exactly as
//! the entity's own put would write them, and attribute names come from [`crate::attr!`] (an
//! entity's field, checked by the compiler) or [`crate::keys`] (key attributes). So no capability
//! spells an expression, and renaming a field either keeps storage working or fails to compile.

use super::{Item, Store, StoreError};
use crate::keys::ItemKey;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use serde::Serialize;
use std::collections::HashMap;

/// The storage name of an entity's field, checked at compile time: `attr!(ExportJob, status)` is
/// `"status"`, and stops compiling if `ExportJob` loses its `status` field. Entities keep their
/// fields' own names in storage (no `serde(rename)` except key attributes, whose names come
/// from [`crate::keys`]).
#[macro_export]
macro_rules! attr {
    ($entity:ty, $field:ident) => {{
        let _ = |entity: &$entity| {
            let _ = &entity.$field;
        };
        stringify!($field)
    }};
}

/// A condition on an item's stored attributes (a `ConditionExpression`).
#[derive(Debug, Clone)]
pub enum Condition {
    /// The item exists (its partition key does).
    ItemExists,
    /// No item has this key yet.
    ItemAbsent,
    Exists(String),
    Absent(String),
    Compare(String, &'static str, Value),
    /// A set or list attribute holds the value (or a string contains it).
    Contains(String, Value),
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

/// An attribute value, or the serde error that making it raised (reported when the request is
/// built, so conditions and updates chain without `?` on every step).
#[derive(Debug, Clone)]
pub struct Value(Result<AttributeValue, String>);

impl Value {
    pub fn of(value: impl Serialize) -> Self {
        Self(serde_dynamo::to_attribute_value(value).map_err(|e| e.to_string()))
    }

    /// A value as stored already (one copied from an item read).
    pub fn raw(value: AttributeValue) -> Self {
        Self(Ok(value))
    }
}

impl Condition {
    pub fn exists(attribute: &str) -> Self {
        Self::Exists(attribute.into())
    }
    pub fn absent(attribute: &str) -> Self {
        Self::Absent(attribute.into())
    }
    pub fn equals(attribute: &str, value: impl Serialize) -> Self {
        Self::Compare(attribute.into(), "=", Value::of(value))
    }
    pub fn differs(attribute: &str, value: impl Serialize) -> Self {
        Self::Compare(attribute.into(), "<>", Value::of(value))
    }
    pub fn below(attribute: &str, value: impl Serialize) -> Self {
        Self::Compare(attribute.into(), "<", Value::of(value))
    }
    pub fn above(attribute: &str, value: impl Serialize) -> Self {
        Self::Compare(attribute.into(), ">", Value::of(value))
    }
    pub fn contains(attribute: &str, value: impl Serialize) -> Self {
        Self::Contains(attribute.into(), Value::of(value))
    }
    /// Optimistic concurrency: the stored item still has `read_version` (`None`: there is none
    /// yet). Versioned entities keep it in their `version` field.
    pub fn version(read_version: Option<u64>) -> Self {
        match read_version {
            None => Self::ItemAbsent,
            Some(v) => Self::equals("version", v),
        }
    }
    pub fn and(self, other: Self) -> Self {
        match self {
            Self::All(mut all) => {
                all.push(other);
                Self::All(all)
            }
            first => Self::All(vec![first, other]),
        }
    }
    pub fn or(self, other: Self) -> Self {
        match self {
            Self::Any(mut any) => {
                any.push(other);
                Self::Any(any)
            }
            first => Self::Any(vec![first, other]),
        }
    }
}

/// Placeholder allocation shared by an update and its condition.
#[derive(Debug, Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    error: Option<String>,
}

impl Placeholders {
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.into());
        placeholder
    }

    fn value(&mut self, value: Value) -> String {
        let placeholder = format!(":v{}", self.values.len());
        match value.0 {
            Ok(v) => {
                self.values.insert(placeholder.clone(), v);
            }
            Err(e) => self.error = Some(e),
        }
        placeholder
    }

    fn render(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::ItemExists => format!("attribute_exists({})", self.name(crate::keys::PK)),
            Condition::ItemAbsent => {
                format!("attribute_not_exists({})", self.name(crate::keys::PK))
            }
            Condition::Exists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::Absent(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::Compare(a, op, v) => {
                format!("{} {op} {}", self.name(a), self.value(v.clone()))
            }
            Condition::Contains(a, v) => {
                format!("contains({}, {})", self.name(a), self.value(v.clone()))
            }
            Condition::All(parts) => self.join(parts, " AND "),
            Condition::Any(parts) => self.join(parts, " OR "),
        }
    }

    fn join(&mut self, parts: &[Condition], with: &str) -> String {
        let rendered: Vec<String> = parts
            .iter()
            .map(|p| format!("({})", self.render(p)))
            .collect();
        rendered.join(with)
    }

    fn finish(self) -> Result<Bound, StoreError> {
        if let Some(e) = self.error {
            return Err(StoreError::Malformed(format!("an expression value: {e}")));
        }
        Ok(Bound {
            names: (!self.names.is_empty()).then_some(self.names),
            values: (!self.values.is_empty()).then_some(self.values),
        })
    }
}

/// Placeholders ready for a request: `None` where there are none (DynamoDB refuses empty maps).
pub(super) struct Bound {
    pub names: Option<HashMap<String, String>>,
    pub values: Option<Item>,
}

/// One UpdateItem: `SET`, `ADD` and `REMOVE` actions on the item at a key, under a condition.
#[derive(Debug)]
pub struct ItemUpdate {
    key: Item,
    set: Vec<String>,
    add: Vec<String>,
    remove: Vec<String>,
    condition: Option<String>,
    placeholders: Placeholders,
}

impl ItemUpdate {
    pub fn at(pk: &str, sk: &str) -> Self {
        Self {
            key: Store::key(pk, sk),
            set: Vec::new(),
            add: Vec::new(),
            remove: Vec::new(),
            condition: None,
            placeholders: Placeholders::default(),
        }
    }

    /// An update of the item an entity names by its key.
    pub fn of(key: &ItemKey) -> Self {
        Self::at(&key.pk, &key.sk)
    }

    pub fn set(self, attribute: &str, value: impl Serialize) -> Self {
        self.set_value(attribute, Value::of(value))
    }

    pub fn set_value(mut self, attribute: &str, value: Value) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(value);
        self.set.push(format!("{name} = {value}"));
        self
    }

    /// Sets the attribute only if the item has none yet (keeps what is there).
    pub fn set_if_absent(mut self, attribute: &str, value: impl Serialize) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(Value::of(value));
        self.set
            .push(format!("{name} = if_not_exists({name}, {value})"));
        self
    }

    /// Adds to a number (an absent one counts as 0).
    pub fn add(mut self, attribute: &str, by: i64) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(Value::of(by));
        self.add.push(format!("{name} {value}"));
        self
    }

    /// Adds strings to a string set (an absent set is created; members already in it stay once).
    pub fn add_to_set(mut self, attribute: &str, members: &[&str]) -> Self {
        let name = self.placeholders.name(attribute);
        let set = AttributeValue::Ss(members.iter().map(|m| m.to_string()).collect());
        let value = self.placeholders.value(Value(Ok(set)));
        self.add.push(format!("{name} {value}"));
        self
    }

    pub fn remove(mut self, attribute: &str) -> Self {
        let name = self.placeholders.name(attribute);
        self.remove.push(name);
        self
    }

    /// Applies only when `condition` holds (several calls: all must hold).
    pub fn when(mut self, condition: Condition) -> Self {
        let rendered = self.placeholders.render(&condition);
        self.condition = Some(match self.condition.take() {
            None => rendered,
            Some(before) => format!("({before}) AND ({rendered})"),
        });
        self
    }

    fn expression(&self) -> String {
        let mut parts = Vec::new();
        for (action, list) in [
            ("SET", &self.set),
            ("ADD", &self.add),
            ("REMOVE", &self.remove),
        ] {
            if !list.is_empty() {
                parts.push(format!("{action} {}", list.join(", ")));
            }
        }
        parts.join(" ")
    }

    /// The same update as a transaction part.
    pub fn into_transact(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let expression = self.expression();
        let Bound { names, values } = self.placeholders.finish()?;
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(expression)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// A put transaction part guarded by `condition`.
pub fn put_when(
    table: &str,
    item: Item,
    condition: Condition,
) -> Result<TransactWriteItem, StoreError> {
    let mut placeholders = Placeholders::default();
    let rendered = placeholders.render(&condition);
    let Bound { names, values } = placeholders.finish()?;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(rendered)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Malformed(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A conditional-delete transaction part: delete the item at `key` only if `condition` holds.
pub fn delete_when(
    table: &str,
    key: Item,
    condition: Condition,
) -> Result<TransactWriteItem, StoreError> {
    let mut placeholders = Placeholders::default();
    let rendered = placeholders.render(&condition);
    let Bound { names, values } = placeholders.finish()?;
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(rendered)
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Malformed(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A condition as a query's `FilterExpression`, with its placeholders.
pub(super) fn render_filter(condition: &Condition) -> Result<(String, Bound), StoreError> {
    let mut placeholders = Placeholders::default();
    let expression = placeholders.render(condition);
    Ok((expression, placeholders.finish()?))
}

/// What an [`ItemUpdate`] sent alone answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// Its condition did not hold: nothing was written.
    ConditionFailed,
}

impl Store {
    /// One PutItem under `condition`; a condition that does not hold is
    /// [`StoreError::ConditionFailed`].
    pub async fn put_item_when(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let mut placeholders = Placeholders::default();
        let rendered = placeholders.render(&condition);
        let Bound { names, values } = placeholders.finish()?;
        let result = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(rendered)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .send()
            .await;
        unless_condition_failed(result)?
            .map(drop)
            .ok_or(StoreError::ConditionFailed)
    }

    /// Sends one update as a plain UpdateItem; a failed condition is [`Applied::ConditionFailed`].
    pub async fn update(&self, update: ItemUpdate) -> Result<Applied, StoreError> {
        let sent = self.send_update(update, ReturnValue::None).await?;
        Ok(sent.map_or(Applied::ConditionFailed, |_| Applied::Yes))
    }

    /// The same, answering the item as it is after the update (`None`: the condition failed).
    pub async fn update_returning(&self, update: ItemUpdate) -> Result<Option<Item>, StoreError> {
        self.send_update(update, ReturnValue::AllNew).await
    }

    async fn send_update(
        &self,
        update: ItemUpdate,
        returning: ReturnValue,
    ) -> Result<Option<Item>, StoreError> {
        let expression = update.expression();
        let Bound { names, values } = update.placeholders.finish()?;
        let result = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(update.key))
            .update_expression(expression)
            .set_condition_expression(update.condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(returning)
            .send()
            .await;
        Ok(unless_condition_failed(result)?.map(|out| out.attributes.unwrap_or_default()))
    }
}

/// A conditional write's outcome: its output (`Some`), or `None` when its condition did not hold.
fn unless_condition_failed<O, E>(
    result: Result<O, SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Result<Option<O>, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(super::request_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_allocated_once_per_name_and_value() {
        let update = ItemUpdate::at("P", "S")
            .set("status", "sent")
            .add("attempts", 1)
            .remove("lease_until")
            .when(Condition::equals("status", "running").and(Condition::below("lease", 5)));
        assert_eq!(update.expression(), "SET #n0 = :v0 ADD #n1 :v1 REMOVE #n2");
        assert_eq!(
            update.condition.as_deref(),
            Some("(#n0 = :v2) AND (#n3 < :v3)")
        );
        assert_eq!(update.placeholders.names.len(), 4);
        assert_eq!(update.placeholders.values.len(), 4);
    }

    #[test]
    fn attr_names_an_existing_field() {
        struct Job {
            status: u8,
        }
        let _ = Job { status: 0 }.status;
        assert_eq!(crate::attr!(Job, status), "status");
    }
}
