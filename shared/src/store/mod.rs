//! Storage: a small trait of table primitives with two backends (DynamoDB and embedded
//! SQLite). Everything that knows what the keys mean lives above this, in `repo`.

use async_trait::async_trait;
use serde_json::Value;

pub mod counter;
pub mod definition;
pub mod dynamo;
pub mod sqlite;

pub use counter::RequestCounter;

/// Most operations one DynamoDB transaction may hold.
pub const MAX_TX_OPS: usize = 100;
/// Most deletes one DynamoDB batch write may hold.
pub const MAX_BATCH: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item. Key and bookkeeping attributes are top-level; the record itself is
/// `data`, a JSON object kept as one attribute so both backends store it identically.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub gsi1: Option<(String, String)>,
    pub gsi2: Option<(String, String)>,
    /// Entity type tag (`product`, `capability`, ...).
    pub entity: String,
    /// Bumped on every write; the optimistic-concurrency token.
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds after which the item is dead (TTL attribute; also checked in code).
    pub expires_at: Option<i64>,
    /// The value of a counter item (`Table::increment`); `None` for records.
    pub count: Option<i64>,
    pub data: Value,
}

impl Item {
    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_unix)
    }
}

/// The condition a write must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    NotExists,
    Exists,
    /// The item exists with exactly this version.
    Version(u64),
}

// Puts dominate transactions; boxing them would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TxOp {
    Put {
        item: Item,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    Check {
        key: Key,
        cond: Cond,
    },
    /// Add `delta` to the counter item at `key` (created at 0), failing its condition when
    /// that would take it past `ceiling`: a quota taken or given back in the same
    /// transaction as the record it counts.
    Add {
        key: Key,
        delta: i64,
        ceiling: Option<i64>,
    },
}

/// One counter to add to (`Table::increment_all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    pub key: Key,
    pub delta: i64,
    /// The most the counter may reach.
    pub ceiling: Option<i64>,
    pub expires_at: Option<i64>,
}

/// A write that admits itself (`Table::admit`): counters that must stay within their
/// ceilings, and what is written — new items, counters without ceilings — only if they do.
#[derive(Debug, Clone, Default)]
pub struct Admit {
    pub limited: Vec<Bump>,
    /// Written only when every limited counter fits; each must not exist yet.
    pub puts: Vec<Item>,
    /// Added to only when every limited counter fits.
    pub counts: Vec<Bump>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Gsi1,
    Gsi2,
}

/// The position of one item in a query's order: enough to resume right after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: Key,
    /// The index key, for index queries.
    pub index_key: Option<(String, String)>,
}

impl Position {
    pub fn of(item: &Item, index: Option<Index>) -> Position {
        Position {
            key: item.key.clone(),
            index_key: match index {
                None => None,
                Some(Index::Gsi1) => item.gsi1.clone(),
                Some(Index::Gsi2) => item.gsi2.clone(),
            },
        }
    }
}

/// Query one partition (of the table or an index) in sort-key order.
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    /// Only sort keys starting with this.
    pub sk_prefix: Option<String>,
    /// Only sort keys at or below this (with the prefix: a range).
    pub sk_max: Option<String>,
    pub start_after: Option<Position>,
    /// Most items to answer; the backend follows its own pages until it has them.
    pub limit: usize,
    pub descending: bool,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Query {
        Query {
            index: None,
            pk: pk.into(),
            sk_prefix: None,
            sk_max: None,
            start_after: None,
            limit: usize::MAX,
            descending: false,
        }
    }

    pub fn index(index: Index, pk: impl Into<String>) -> Query {
        Query {
            index: Some(index),
            ..Query::partition(pk)
        }
    }

    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.sk_prefix = Some(p.into());
        self
    }

    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn after(mut self, p: Option<Position>) -> Self {
        self.start_after = p;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// True when the partition may hold more items past the last one answered.
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// A single write's condition did not hold.
    ConditionFailed,
    /// A transaction was cancelled: the indexes of the operations whose condition failed
    /// (empty when it lost a race with another transaction and may simply be retried).
    Cancelled(Vec<usize>),
    /// The store cannot be reached (network, throttling, locked file): 503.
    Unavailable(String),
    /// The store refused the write as invalid (DynamoDB's `ValidationException`: an item too
    /// large or too deep): 400, detail only in logs.
    Invalid(String),
    /// Anything else: 500, detail only in logs.
    Internal(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::ConditionFailed => write!(f, "condition failed"),
            StoreError::Cancelled(idx) => write!(f, "transaction cancelled at {idx:?}"),
            StoreError::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            StoreError::Invalid(m) => write!(f, "storage refused the write: {m}"),
            StoreError::Internal(m) => write!(f, "storage error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// The primitives every backend provides. All of them are single round trips except
/// `query` (which follows pages up to `limit`) and `delete_many` (batches of 25).
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;

    async fn put(&self, item: Item, cond: Cond) -> StoreResult<()>;

    /// Delete the item (under `cond`).
    async fn delete(&self, key: &Key, cond: Cond) -> StoreResult<()>;

    /// All or nothing, at most `MAX_TX_OPS` operations on distinct keys.
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()>;

    async fn query(&self, q: &Query) -> StoreResult<Page>;

    /// Independent transactions, each all or nothing (a group of one put is a conditional
    /// put: `ConditionFailed`), answered one by one. DynamoDB sends them side by side; the
    /// embedded store writes them in one step.
    async fn transact_each(&self, groups: Vec<Vec<TxOp>>) -> Vec<StoreResult<()>> {
        futures_util::future::join_all(groups.into_iter().map(|ops| async move {
            match <[TxOp; 1]>::try_from(ops) {
                Ok([TxOp::Put { item, cond }]) => self.put(item, cond).await,
                Ok([op]) => self.transact(vec![op]).await,
                Err(ops) => self.transact(ops).await,
            }
        }))
        .await
    }

    /// Unconditional deletes, in batches of at most `MAX_BATCH`.
    async fn delete_many(&self, keys: &[Key]) -> StoreResult<()>;

    /// Remove items whose `expires_at` has passed, where the store has no expiry of its
    /// own (DynamoDB's TTL does this there: nothing to do).
    async fn purge_expired(&self, _now_unix: i64) -> StoreResult<usize> {
        Ok(0)
    }

    /// Atomically add `delta` to the counter item at `key` (created at 0 if absent) and
    /// answer the new value — unless that would take it past `ceiling`: then nothing
    /// changes and the answer is `None`. One conditional write, never a transaction, so
    /// any number of concurrent callers on one hot counter see no contention errors.
    /// `expires_at` sets the item's TTL.
    async fn increment(
        &self,
        key: &Key,
        delta: i64,
        ceiling: Option<i64>,
        expires_at: Option<i64>,
    ) -> StoreResult<Option<i64>>;

    /// Add to every counter of `bumps`, or to none of them: `Ok(values)`, or `Err(refused)`
    /// with the positions of the counters that would have passed their ceilings. This way:
    /// every increment at once (one round trip), and the ones that took back if any refused —
    /// so a counter may be one higher for a moment, never past its ceiling. A backend that
    /// can do it in one atomic step does.
    async fn increment_all(&self, bumps: &[Bump]) -> StoreResult<Result<Vec<i64>, Vec<usize>>> {
        let added = futures_util::future::join_all(
            bumps
                .iter()
                .map(|b| self.increment(&b.key, b.delta, b.ceiling, b.expires_at)),
        )
        .await;
        let mut values = Vec::with_capacity(bumps.len());
        let mut refused = Vec::new();
        for (i, outcome) in added.into_iter().enumerate() {
            match outcome? {
                Some(v) => values.push((i, v)),
                None => refused.push(i),
            }
        }
        if refused.is_empty() {
            return Ok(Ok(values.into_iter().map(|(_, v)| v).collect()));
        }
        let refunds = values.iter().map(|(i, _)| {
            let b = &bumps[*i];
            self.increment(&b.key, -b.delta, None, b.expires_at)
        });
        for outcome in futures_util::future::join_all(refunds).await {
            // a refund that fails leaves a counter high until it expires: safe, and logged
            if let Err(e) = outcome {
                crate::log::error("counter refund failed", &e.to_string());
            }
        }
        Ok(Err(refused))
    }

    /// Whether `admit` counts and writes in one atomic step (so a caller that must read
    /// before it knows what to write reads first, then admits: two steps either way).
    fn admits_in_one_step(&self) -> bool {
        false
    }

    /// Count `a.limited` (all or none, as `increment_all`); if they fit, write `a.puts` and
    /// add `a.counts`. Two round trips here (the counters, then the writes side by side); a
    /// backend that can do it all in one atomic step does.
    async fn admit(&self, a: Admit) -> StoreResult<Result<Vec<i64>, Vec<usize>>> {
        let counted = match self.increment_all(&a.limited).await? {
            Ok(values) => values,
            Err(refused) => return Ok(Err(refused)),
        };
        let puts = futures_util::future::join_all(
            a.puts
                .into_iter()
                .map(|item| self.put(item, Cond::NotExists)),
        );
        let counts = futures_util::future::join_all(
            a.counts
                .iter()
                .map(|b| self.increment(&b.key, b.delta, b.ceiling, b.expires_at)),
        );
        let (puts, counts) = futures_util::future::join(puts, counts).await;
        for put in puts {
            put?;
        }
        for count in counts {
            // the admitted write stands; only a figure misses it
            if let Err(e) = count {
                crate::log::error("counter not added", &e.to_string());
            }
        }
        Ok(Ok(counted))
    }
}
