//! Multi-item changes that may outgrow one transaction (cascading deletes, scope updates).
//!
//! Small changes are one all-or-nothing transaction. Larger ones run stage by stage, in
//! order: callers put what must stop working first (key hash items) in the first stage and
//! the record whose disappearance ends the operation in the last, so an interrupted cascade
//! never leaves a deleted key verifying and can be finished by repeating the request.

use crate::store::{Cond, Key, StoreResult, Table, TxOp, MAX_TX_OPS};

pub async fn apply(table: &dyn Table, stages: Vec<Vec<TxOp>>) -> StoreResult<()> {
    let total: usize = stages.iter().map(Vec::len).sum();
    if total == 0 {
        return Ok(());
    }
    if total <= MAX_TX_OPS {
        return table.transact(stages.into_iter().flatten().collect()).await;
    }
    for stage in stages {
        let (deletes, others): (Vec<TxOp>, Vec<TxOp>) = stage.into_iter().partition(|op| {
            matches!(
                op,
                TxOp::Delete {
                    cond: Cond::Always,
                    ..
                }
            )
        });
        for chunk in others.chunks(MAX_TX_OPS) {
            table.transact(chunk.to_vec()).await?;
        }
        let keys: Vec<Key> = deletes
            .into_iter()
            .filter_map(|op| match op {
                TxOp::Delete { key, .. } => Some(key),
                _ => None,
            })
            .collect();
        table.delete_many(&keys).await?;
    }
    Ok(())
}

/// Unconditional deletes of `keys`.
pub fn deletes(keys: impl IntoIterator<Item = Key>) -> Vec<TxOp> {
    keys.into_iter()
        .map(|key| TxOp::Delete {
            key,
            cond: Cond::Always,
        })
        .collect()
}
