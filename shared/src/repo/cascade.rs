//! Deleting a subtree: a record with everything under it.
//!
//! A small subtree goes in one all-or-nothing transaction. A larger one runs stage by stage,
//! in this order: the secrets (key hash items, so nothing it held authorises anything any
//! more), the rewrites that keep surviving records consistent (keys' scopes), the children,
//! and last the parent under the version read. An interrupted delete thus never leaves a
//! deleted key verifying, and since the parent is still there, repeating the request
//! finishes it.

use std::future::Future;

use crate::error::ApiResult;
use crate::store::{Cond, Key, StoreResult, Table, TxOp, MAX_TX_OPS};

use super::Retry;

/// What deleting one record takes.
#[derive(Debug)]
pub struct Subtree {
    secrets: Vec<Key>,
    rewrites: Vec<TxOp>,
    children: Vec<Key>,
    parent: Vec<TxOp>,
}

impl Subtree {
    /// The subtree under the record at `parent`, read at `version`.
    pub fn of(parent: Key, version: u64) -> Subtree {
        Subtree {
            secrets: Vec::new(),
            rewrites: Vec::new(),
            children: Vec::new(),
            parent: vec![TxOp::Delete {
                key: parent,
                cond: Cond::Version(version),
            }],
        }
    }

    /// Items whose existence grants access: removed before anything else.
    pub fn secrets(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.secrets.extend(keys);
        self
    }

    /// Writes to records that stay, made before anything they point at goes.
    pub fn rewrites(mut self, ops: impl IntoIterator<Item = TxOp>) -> Self {
        self.rewrites.extend(ops);
        self
    }

    pub fn children(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.children.extend(keys);
        self
    }

    /// Items that must last exactly as long as the parent (its name reservation).
    pub fn with_parent(mut self, key: Key) -> Self {
        self.parent.push(TxOp::Delete {
            key,
            cond: Cond::Always,
        });
        self
    }

    /// Writes made with the parent's delete (quota counts given back).
    pub fn with_parent_ops(mut self, ops: impl IntoIterator<Item = TxOp>) -> Self {
        self.parent.extend(ops);
        self
    }

    fn stages(self) -> [Vec<TxOp>; 4] {
        [
            unconditional(self.secrets),
            self.rewrites,
            unconditional(self.children),
            self.parent,
        ]
    }
}

fn unconditional(keys: Vec<Key>) -> Vec<TxOp> {
    keys.into_iter()
        .map(|key| TxOp::Delete {
            key,
            cond: Cond::Always,
        })
        .collect()
}

/// Delete the subtree `plan` reads (afresh on each attempt: a lost race on the parent's
/// version reads it again).
pub async fn delete<F, Fut>(table: &dyn Table, mut plan: F) -> ApiResult<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<Subtree>>,
{
    let mut retry = Retry::default();
    loop {
        let subtree = plan().await?;
        match apply(table, subtree.stages()).await {
            Ok(()) => return Ok(()),
            Err(e) => retry.after(e).await?,
        }
    }
}

async fn apply(table: &dyn Table, stages: [Vec<TxOp>; 4]) -> StoreResult<()> {
    let total: usize = stages.iter().map(Vec::len).sum();
    if total <= MAX_TX_OPS {
        return table.transact(stages.into_iter().flatten().collect()).await;
    }
    let [secrets, rewrites, children, parent] = stages;
    for stage in [secrets, rewrites, children] {
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
    // The parent and what lasts exactly as long as it go together.
    table.transact(parent).await
}
