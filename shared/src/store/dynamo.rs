//! The DynamoDB backend (`aws-sdk-dynamodb`, items converted with `serde_dynamo`).
//! Configured from the standard AWS environment; `AWS_ENDPOINT_URL_DYNAMODB` points it at
//! DynamoDB Local.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use serde::{Deserialize, Serialize};

use super::definition::{self, TABLE};
use super::{
    Cond, Index, Item, Key, Page, Position, Query, RequestCounter, StoreError, StoreResult, Table,
    TxOp,
};

type Attrs = HashMap<String, AttributeValue>;

pub struct DynamoTable {
    client: Client,
    /// Counts round trips (each operation of the `Table` trait); the client's interceptor
    /// counts the requests sent.
    counter: RequestCounter,
    table: String,
}

/// Counts every attempt the SDK sends: one per round trip, retries included.
#[derive(Debug)]
struct CountRequests(RequestCounter);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.request();
        Ok(())
    }
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// The region and the execution role's credentials, from what Lambda puts in a function's
/// environment (no general credentials chain: less to load on a cold start).
pub fn lambda_identity() -> Result<
    (
        aws_sdk_dynamodb::config::Region,
        aws_sdk_dynamodb::config::Credentials,
    ),
    String,
> {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    let region = env_var("AWS_REGION")
        .or_else(|| env_var("AWS_DEFAULT_REGION"))
        .ok_or("AWS_REGION is not set")?;
    let credentials = Credentials::new(
        env_var("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
        env_var("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
        env_var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    Ok((Region::new(region), credentials))
}

impl DynamoTable {
    /// Count a round trip: operations issued together (joined) have all begun before any of
    /// them can end, whatever the SDK does on its first poll, as over a network.
    async fn round(&self) -> super::counter::InFlight {
        let round = self.counter.begin();
        tokio::task::yield_now().await;
        round
    }

    fn timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
        aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(12))
            .build()
    }

    fn retries() -> aws_sdk_dynamodb::config::retry::RetryConfig {
        aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(3)
    }

    /// A client from the standard AWS environment (region, credentials chain, endpoint),
    /// for the `runtype` command and the local server.
    pub async fn from_env(
        table: String,
        endpoint: Option<String>,
        counter: RequestCounter,
    ) -> DynamoTable {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(crate::aws_http::sdk_http_client())
            .timeout_config(Self::timeouts())
            .retry_config(Self::retries());
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(aws_sdk_dynamodb::config::Region::new("us-east-1"));
        }
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&shared)
            .interceptor(CountRequests(counter.clone()))
            .build();
        DynamoTable {
            client: Client::from_conf(config),
            counter,
            table,
        }
    }

    /// A client from what Lambda puts in a function's environment (`AWS_REGION` and the
    /// execution role's credentials), without the general credentials chain: less to load
    /// on a cold start. `AWS_ENDPOINT_URL_DYNAMODB` is honoured.
    pub fn from_lambda_env(table: String, counter: RequestCounter) -> Result<DynamoTable, String> {
        use aws_sdk_dynamodb::config::BehaviorVersion;
        let (region, credentials) = lambda_identity()?;
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .http_client(crate::aws_http::sdk_http_client())
            .timeout_config(Self::timeouts())
            .retry_config(Self::retries())
            .interceptor(CountRequests(counter.clone()));
        if let Some(url) = env_var("AWS_ENDPOINT_URL_DYNAMODB") {
            config = config.endpoint_url(url);
        }
        Ok(DynamoTable {
            client: Client::from_conf(config.build()),
            counter,
            table,
        })
    }

    /// The SDK client (tests use it to inspect the table directly).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Create the table (keys, indexes, TTL) as `definition::TABLE` describes it.
    pub async fn create_table(&self) -> StoreResult<()> {
        let s = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(internal)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(internal)
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(s(TABLE.partition_key)?)
            .attribute_definitions(s(TABLE.sort_key)?)
            .key_schema(key(TABLE.partition_key, KeyType::Hash)?)
            .key_schema(key(TABLE.sort_key, KeyType::Range)?);
        for (name, pk, sk) in TABLE.indexes {
            req = req
                .attribute_definitions(s(pk)?)
                .attribute_definitions(s(sk)?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(*name)
                        .key_schema(key(pk, KeyType::Hash)?)
                        .key_schema(key(sk, KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(internal)?,
                );
        }
        req.send().await.map_err(classify)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TABLE.ttl_attribute)
                    .build()
                    .map_err(internal)?,
            )
            .send()
            .await
            .map_err(classify)?;
        self.until_active().await
    }

    /// Wait (up to a minute) until the table and every index are `ACTIVE`: writes made
    /// before an index is active may not be found through it.
    async fn until_active(&self) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{IndexStatus, TableStatus};
        for _ in 0..600 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(classify)?;
            let table = out.table();
            let ready = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active)
                && table.is_some_and(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .all(|i| i.index_status() == Some(&IndexStatus::Active))
                });
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StoreError::Unavailable(format!(
            "table {} did not become active",
            self.table
        )))
    }
}

/// The item as DynamoDB stores it.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", skip_serializing_if = "Option::is_none", default)]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", skip_serializing_if = "Option::is_none", default)]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", skip_serializing_if = "Option::is_none", default)]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", skip_serializing_if = "Option::is_none", default)]
    gsi2sk: Option<String>,
    #[serde(rename = "type")]
    entity: String,
    version: u64,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none", default)]
    expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    count: Option<i64>,
    data: String,
}

fn to_attrs(item: &Item) -> StoreResult<Attrs> {
    let stored = Stored {
        pk: item.key.pk.clone(),
        sk: item.key.sk.clone(),
        gsi1pk: item.gsi1.as_ref().map(|g| g.0.clone()),
        gsi1sk: item.gsi1.as_ref().map(|g| g.1.clone()),
        gsi2pk: item.gsi2.as_ref().map(|g| g.0.clone()),
        gsi2sk: item.gsi2.as_ref().map(|g| g.1.clone()),
        entity: item.entity.clone(),
        version: item.version,
        created_at: item.created_at.clone(),
        updated_at: item.updated_at.clone(),
        expires_at: item.expires_at,
        count: item.count,
        data: serde_json::to_string(&item.data).map_err(internal)?,
    };
    serde_dynamo::to_item(stored).map_err(internal)
}

fn from_attrs(attrs: Attrs) -> StoreResult<Item> {
    let s: Stored = serde_dynamo::from_item(attrs).map_err(internal)?;
    Ok(Item {
        key: Key::new(s.pk, s.sk),
        gsi1: s.gsi1pk.zip(s.gsi1sk),
        gsi2: s.gsi2pk.zip(s.gsi2sk),
        entity: s.entity,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        expires_at: s.expires_at,
        count: s.count,
        data: serde_json::from_str(&s.data).map_err(internal)?,
    })
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([
        (
            TABLE.partition_key.to_string(),
            AttributeValue::S(key.pk.clone()),
        ),
        (
            TABLE.sort_key.to_string(),
            AttributeValue::S(key.sk.clone()),
        ),
    ])
}

/// A condition as the request builders take it: expression, names and values (all `None`
/// for `Cond::Always`).
#[derive(Default)]
struct Condition {
    expr: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attrs>,
}

fn condition(cond: Cond) -> Condition {
    let on_pk = |expr: &str| Condition {
        expr: Some(expr.into()),
        names: Some(HashMap::from([("#pk".into(), TABLE.partition_key.into())])),
        values: None,
    };
    match cond {
        Cond::Always => Condition::default(),
        Cond::NotExists => on_pk("attribute_not_exists(#pk)"),
        Cond::Exists => on_pk("attribute_exists(#pk)"),
        Cond::Version(v) => Condition {
            expr: Some("#version = :version".into()),
            names: Some(HashMap::from([(
                "#version".into(),
                definition::VERSION.into(),
            )])),
            values: Some(HashMap::from([(
                ":version".into(),
                AttributeValue::N(v.to_string()),
            )])),
        },
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// One line for an SDK error: the service's own code and message, or the chain of causes
/// (never the debug dump of the whole request and response).
fn short<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "DynamoDB did not answer in time".into(),
        _ => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let part = c.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                cause = c.source();
            }
            text
        }
    }
}

/// SDK errors: network and throttling are `Unavailable` (503), failed conditions are
/// `ConditionFailed`, anything else `Internal`.
/// The update that adds `delta` to a counter item (created at 0), with its condition when
/// there is a `ceiling`: expression, names, values, condition.
fn counter_update(
    delta: i64,
    ceiling: Option<i64>,
    expires_at: Option<i64>,
) -> (String, HashMap<String, String>, Attrs, Option<String>) {
    // the counter's own stamps: the store's bookkeeping, from the wall clock
    let now = crate::time::Clock::system().now_string();
    let mut expr = "ADD #count :delta, #version :one SET #type = if_not_exists(#type, :counter), #created = if_not_exists(#created, :now), #updated = :now, #data = if_not_exists(#data, :empty)".to_string();
    let mut names = HashMap::from([
        ("#count".to_string(), definition::COUNT.to_string()),
        ("#version".into(), definition::VERSION.into()),
        ("#type".into(), definition::ENTITY.into()),
        ("#created".into(), definition::CREATED_AT.into()),
        ("#updated".into(), definition::UPDATED_AT.into()),
        ("#data".into(), definition::DATA.into()),
    ]);
    let mut values = HashMap::from([
        (":delta".to_string(), AttributeValue::N(delta.to_string())),
        (":one".into(), AttributeValue::N("1".into())),
        (":counter".into(), AttributeValue::S("counter".into())),
        (":now".into(), AttributeValue::S(now)),
        (":empty".into(), AttributeValue::S("{}".into())),
    ]);
    if let Some(t) = expires_at {
        expr += ", #exp = :exp";
        names.insert("#exp".into(), TABLE.ttl_attribute.into());
        values.insert(":exp".into(), AttributeValue::N(t.to_string()));
    }
    // The check and the add are one step: past the ceiling, nothing changes.
    let condition = ceiling.map(|c| {
        values.insert(":max".into(), AttributeValue::N((c - delta).to_string()));
        "attribute_not_exists(#count) OR #count <= :max".to_string()
    });
    (expr, names, values, condition)
}

fn classify<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = short(&e);
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(text)
        }
        SdkError::ServiceError(se) => match se.err().code() {
            Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
            Some(
                "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "ThrottlingException"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "ResourceNotFoundException"
                | "UnrecognizedClientException",
            ) => StoreError::Unavailable(text),
            Some("ValidationException") => StoreError::Invalid(text),
            _ => StoreError::Internal(text),
        },
        _ => StoreError::Internal(text),
    }
}

fn index_name(index: Index) -> (&'static str, &'static str, &'static str) {
    match index {
        Index::Gsi1 => TABLE.indexes[0],
        Index::Gsi2 => TABLE.indexes[1],
    }
}

fn start_key(q: &Query, p: &Position) -> Attrs {
    let mut attrs = key_attrs(&p.key);
    if let (Some(index), Some((ipk, isk))) = (q.index, &p.index_key) {
        let (_, pk_attr, sk_attr) = index_name(index);
        attrs.insert(pk_attr.into(), AttributeValue::S(ipk.clone()));
        attrs.insert(sk_attr.into(), AttributeValue::S(isk.clone()));
    }
    attrs
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let _round = self.round().await;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        self.counter.read_items(usize::from(out.item.is_some()));
        out.item.map(from_attrs).transpose()
    }

    async fn put(&self, item: Item, cond: Cond) -> StoreResult<()> {
        let _round = self.round().await;
        let c = condition(cond);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)?))
            .set_condition_expression(c.expr)
            .set_expression_attribute_names(c.names)
            .set_expression_attribute_values(c.values)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete(&self, key: &Key, cond: Cond) -> StoreResult<()> {
        let _round = self.round().await;
        let c = condition(cond);
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(c.expr)
            .set_expression_attribute_names(c.names)
            .set_expression_attribute_values(c.values)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let _round = self.round().await;
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let built = match op {
                TxOp::Put { item, cond } => {
                    let c = condition(*cond);
                    let b = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_attrs(item)?))
                        .set_condition_expression(c.expr)
                        .set_expression_attribute_names(c.names)
                        .set_expression_attribute_values(c.values);
                    TransactWriteItem::builder()
                        .put(b.build().map_err(internal)?)
                        .build()
                }
                TxOp::Delete { key, cond } => {
                    let c = condition(*cond);
                    let b = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .set_condition_expression(c.expr)
                        .set_expression_attribute_names(c.names)
                        .set_expression_attribute_values(c.values);
                    TransactWriteItem::builder()
                        .delete(b.build().map_err(internal)?)
                        .build()
                }
                TxOp::Add {
                    key,
                    delta,
                    ceiling,
                } => {
                    let (expr, names, values, condition) = counter_update(*delta, *ceiling, None);
                    let b = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .update_expression(expr)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values));
                    TransactWriteItem::builder()
                        .update(b.build().map_err(internal)?)
                        .build()
                }
                TxOp::Check { key, cond } => {
                    // a check needs a condition: `Always` is one that always holds
                    let c = match cond {
                        Cond::Always => Condition {
                            expr: Some("attribute_exists(#pk) OR attribute_not_exists(#pk)".into()),
                            ..condition(Cond::Exists)
                        },
                        c => condition(*c),
                    };
                    let b = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .set_condition_expression(c.expr)
                        .set_expression_attribute_names(c.names)
                        .set_expression_attribute_values(c.values);
                    TransactWriteItem::builder()
                        .condition_check(b.build().map_err(internal)?)
                        .build()
                }
            };
            items.push(built);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(t)) =
                    e.as_service_error()
                {
                    let failed: Vec<usize> = t
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect();
                    let conflict = t.cancellation_reasons().iter().any(|r| {
                        matches!(
                            r.code(),
                            Some("TransactionConflict") | Some("ThrottlingError")
                        )
                    });
                    if !failed.is_empty() || conflict {
                        return Err(StoreError::Cancelled(failed));
                    }
                }
                if let Some(TransactWriteItemsError::TransactionInProgressException(_)) =
                    e.as_service_error()
                {
                    return Err(StoreError::Cancelled(vec![]));
                }
                Err(classify(e))
            }
        }
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let _round = self.round().await;
        let (index, pk_attr, sk_attr) = match q.index {
            None => (None, TABLE.partition_key, TABLE.sort_key),
            Some(i) => {
                let (name, pk, sk) = index_name(i);
                (Some(name), pk, sk)
            }
        };
        let mut names = HashMap::from([("#pk".to_string(), pk_attr.to_string())]);
        let mut values = HashMap::from([(":pk".to_string(), AttributeValue::S(q.pk.clone()))]);
        let mut expr = "#pk = :pk".to_string();
        match (&q.sk_prefix, &q.sk_max) {
            (None, None) => {}
            (Some(p), None) => {
                expr += " AND begins_with(#sk, :lo)";
                values.insert(":lo".into(), AttributeValue::S(p.clone()));
            }
            (None, Some(max)) => {
                expr += " AND #sk <= :hi";
                values.insert(":hi".into(), AttributeValue::S(max.clone()));
            }
            (Some(p), Some(max)) => {
                expr += " AND #sk BETWEEN :lo AND :hi";
                values.insert(":lo".into(), AttributeValue::S(p.clone()));
                values.insert(":hi".into(), AttributeValue::S(max.clone()));
            }
        }
        if q.sk_prefix.is_some() || q.sk_max.is_some() {
            names.insert("#sk".into(), sk_attr.into());
        }
        let want = q.limit.saturating_add(1);
        let mut items = Vec::new();
        let mut start = q.start_after.as_ref().map(|p| start_key(q, p));
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(&expr)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!q.descending)
                .set_exclusive_start_key(start.take())
                .consistent_read(index.is_none());
            if let Ok(n) = i32::try_from(want - items.len()) {
                req = req.limit(n);
            }
            let out = req.send().await.map_err(classify)?;
            self.counter
                .read_items(out.items.as_ref().map_or(0, Vec::len));
            for attrs in out.items.unwrap_or_default() {
                items.push(from_attrs(attrs)?);
            }
            match out.last_evaluated_key {
                Some(lek) if items.len() < want => start = Some(lek),
                _ => break,
            }
        }
        let more = items.len() > q.limit;
        items.truncate(q.limit);
        Ok(Page { items, more })
    }

    async fn delete_many(&self, keys: &[Key]) -> StoreResult<()> {
        let _round = self.round().await;
        for chunk in keys.chunks(super::MAX_BATCH) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(key_attrs(k)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(internal)
                })
                .collect::<StoreResult<_>>()?;
            let mut attempt = 0u32;
            while !pending.is_empty() {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                }
                if attempt > 8 {
                    return Err(StoreError::Unavailable(
                        "batch delete kept being throttled".into(),
                    ));
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(classify)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }

    async fn increment(
        &self,
        key: &Key,
        delta: i64,
        ceiling: Option<i64>,
        expires_at: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        let _round = self.round().await;
        if ceiling.is_some_and(|c| delta > c) {
            return Ok(None);
        }
        let (expr, names, values, condition) = counter_update(delta, ceiling, expires_at);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression(expr)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(classify);
        let out = match out {
            Err(StoreError::ConditionFailed) => return Ok(None),
            other => other?,
        };
        match out.attributes.and_then(|mut a| a.remove(definition::COUNT)) {
            Some(AttributeValue::N(n)) => n.parse().map(Some).map_err(internal),
            _ => Err(StoreError::Internal(
                "counter update answered no count".into(),
            )),
        }
    }
}
