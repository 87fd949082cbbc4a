//! Quotas (API.md "Limits"): a counter item per owner or parent and kind, added to in the
//! same transaction as the record it counts. Taking a place is a conditional add (never past
//! the limit, however many creates race, in any number of processes: losers of a race are
//! tried again and then see the new count); deletes give their places back in their own
//! transaction, so a count never drifts from what exists.

use crate::config::Limits;
use crate::error::{ApiError, ApiResult};
use crate::store::{Key, TxOp};

use super::layout as k;
use super::Tx;

/// One limit on how many of something there may be.
#[derive(Debug, Clone)]
pub struct Quota {
    pub counter: Key,
    /// Its limit among the configured ones.
    limit: fn(&Limits) -> i64,
    /// What it limits, for the error: "schedules per surface".
    what: &'static str,
}

impl Quota {
    pub fn products(owner: &str) -> Quota {
        Quota {
            counter: k::owner_quota(owner, "PRODUCTS"),
            limit: |l| l.products_per_owner,
            what: "products per owner",
        }
    }

    pub fn capabilities(product_id: &str) -> Quota {
        Quota {
            counter: k::product_quota(product_id, "CAPABILITIES"),
            limit: |l| l.capabilities_per_product,
            what: "capabilities per product",
        }
    }

    pub fn surfaces(product_id: &str) -> Quota {
        Quota {
            counter: k::product_quota(product_id, "SURFACES"),
            limit: |l| l.surfaces_per_product,
            what: "surfaces per product",
        }
    }

    /// Every item add and delete changes this count, so its version also stands for "the
    /// surface's items as read": a key create checks it once instead of each item its
    /// scopes name.
    pub fn items(product_id: &str, surface_id: &str) -> Quota {
        Quota {
            counter: k::surface_quota(product_id, surface_id, "ITEMS"),
            limit: |l| l.items_per_surface,
            what: "items per surface",
        }
    }

    pub fn keys(product_id: &str, surface_id: &str) -> Quota {
        Quota {
            counter: k::surface_quota(product_id, surface_id, "KEYS"),
            limit: |l| l.keys_per_surface,
            what: "keys per surface",
        }
    }

    pub fn schedules_of_surface(product_id: &str, surface_id: &str) -> Quota {
        Quota {
            counter: k::surface_quota(product_id, surface_id, "SCHEDULES"),
            limit: |l| l.schedules_per_surface,
            what: "schedules per surface",
        }
    }

    pub fn schedules_of_owner(owner: &str) -> Quota {
        Quota {
            counter: k::owner_quota(owner, "SCHEDULES"),
            limit: |l| l.schedules_per_owner,
            what: "schedules per owner",
        }
    }

    /// Take one place in `tx`; a full quota cancels it, answered 403 `QUOTA_EXCEEDED`
    /// naming the limit.
    pub fn take(&self, tx: &mut Tx, limits: &Limits) -> ApiResult<()> {
        let limit = (self.limit)(limits);
        let exceeded =
            ApiError::QuotaExceeded(format!("Quota exceeded: at most {limit} {}", self.what));
        if limit < 1 {
            return Err(exceeded);
        }
        let op = tx.add(self.counter.clone(), 1, Some(limit));
        tx.or_answer(op, exceeded);
        Ok(())
    }

    /// Give `n` places back (what a delete removes), as an operation of the delete's
    /// transaction.
    pub fn given_back(&self, n: usize) -> Option<TxOp> {
        (n > 0).then(|| TxOp::Add {
            key: self.counter.clone(),
            delta: -(n as i64),
            ceiling: None,
        })
    }
}
