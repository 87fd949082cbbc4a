//! A transaction under construction, with a handle per operation, so a cancellation is
//! matched by name (`rejected.failed(reservation)`) and never by position.

use crate::error::ApiError;
use crate::store::{Cond, Item, Key, StoreError, Table, TxOp};

/// One operation of a `Tx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op(usize);

/// Operations to write all or nothing, and what to answer when a named one's condition is
/// what cancelled them.
#[derive(Debug, Default)]
pub struct Tx {
    ops: Vec<TxOp>,
    answers: Vec<(Op, ApiError)>,
}

impl Tx {
    fn push(&mut self, op: TxOp) -> Op {
        self.ops.push(op);
        Op(self.ops.len() - 1)
    }

    pub fn put(&mut self, item: Item, cond: Cond) -> Op {
        self.push(TxOp::Put { item, cond })
    }

    pub fn delete(&mut self, key: Key, cond: Cond) -> Op {
        self.push(TxOp::Delete { key, cond })
    }

    pub fn check(&mut self, key: Key, cond: Cond) -> Op {
        self.push(TxOp::Check { key, cond })
    }

    /// Add `delta` to a counter; past `ceiling`, the transaction is cancelled.
    pub fn add(&mut self, key: Key, delta: i64, ceiling: Option<i64>) -> Op {
        self.push(TxOp::Add {
            key,
            delta,
            ceiling,
        })
    }

    /// Prepared operations (quota counts given back).
    pub fn ops(&mut self, ops: impl IntoIterator<Item = TxOp>) {
        self.ops.extend(ops);
    }

    /// When `op`'s condition cancels the transaction, the write answers `answer` instead of
    /// being tried again (a name taken, a parent gone).
    pub fn or_answer(&mut self, op: Op, answer: ApiError) {
        self.answers.push((op, answer));
    }

    pub async fn commit(self, table: &dyn Table) -> Result<(), Rejected> {
        // no record past the limit reaches the store: 400 naming its largest field
        for (i, op) in self.ops.iter().enumerate() {
            if let TxOp::Put { item, .. } = op {
                if let Some(refusal) = too_large(&item.data) {
                    return Err(Rejected {
                        error: StoreError::Cancelled(vec![i]),
                        answers: vec![(Op(i), refusal)],
                    });
                }
            }
        }
        table.transact(self.ops).await.map_err(|error| Rejected {
            error,
            answers: self.answers,
        })
    }
}

/// A transaction the store did not apply.
#[derive(Debug)]
pub struct Rejected {
    error: StoreError,
    answers: Vec<(Op, ApiError)>,
}

impl Rejected {
    /// Whether `op`'s condition was one that failed.
    pub fn failed(&self, op: Op) -> bool {
        matches!(&self.error, StoreError::Cancelled(failed) if failed.contains(&op.0))
    }

    /// The answer named for the first failed operation that has one.
    pub fn answer(&mut self) -> Option<ApiError> {
        let at = self.answers.iter().position(|(op, _)| self.failed(*op))?;
        Some(self.answers.swap_remove(at).1)
    }

    pub fn into_store_error(self) -> StoreError {
        self.error
    }
}

impl From<Rejected> for ApiError {
    fn from(mut r: Rejected) -> ApiError {
        match r.answer() {
            Some(answer) => answer,
            None if super::raced(&r.error) => super::too_much_contention(),
            None => r.error.into(),
        }
    }
}

pub use crate::rules::MAX_RECORD;

/// A 400 `TOO_LONG` naming the largest field, when the record is over `MAX_RECORD`.
pub fn too_large(record: &serde_json::Value) -> Option<ApiError> {
    let size = |v: &serde_json::Value| serde_json::to_vec(v).map_or(0, |b| b.len());
    if size(record) <= MAX_RECORD {
        return None;
    }
    let largest = record
        .as_object()
        .and_then(|m| {
            m.iter()
                .max_by_key(|(_, v)| size(v))
                .map(|(k, _)| k.clone())
        })
        .unwrap_or_default();
    Some(ApiError::Validation(vec![crate::error::Detail::new(
        largest.clone(),
        "TOO_LONG",
        format!(
            "The record would be over {} KiB; {largest} is its largest field",
            MAX_RECORD / 1024
        ),
    )]))
}
