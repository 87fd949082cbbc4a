//! Accounts and platform keys.

use crate::error::{ApiError, ApiResult};
use crate::model::account::PlatformKeyHash;
use crate::model::{Account, PlatformKey};
use crate::secrets;
use crate::store::{Cond, Index, Query, Table};

use super::layout::{self as k, entity};
use super::{decode, item, Tx};

/// Platform key prefixes: live and test keys.
pub const LIVE_PREFIX: &str = "rt_live_";
pub const TEST_PREFIX: &str = "rt_test_";

/// A freshly made key: its record and the plaintext, which exists only in this value.
pub struct NewKey {
    pub record: PlatformKey,
    pub plaintext: String,
}

fn new_key(account_id: &str, read_only: bool, test: bool, now: &str) -> NewKey {
    let prefix = if test { TEST_PREFIX } else { LIVE_PREFIX };
    let plaintext = secrets::generate(prefix);
    let record = PlatformKey {
        id: crate::ids::new_id("key"),
        account_id: account_id.to_string(),
        hash: secrets::hash(&plaintext),
        key_prefix: secrets::display_prefix(prefix, &plaintext),
        read_only,
        test,
        created_at: now.to_string(),
        revoked_at: None,
    };
    NewKey { record, plaintext }
}

/// Write a key's record and the hash item that authenticates it in `tx`.
fn write_key(tx: &mut Tx, key: &PlatformKey) {
    let hash_record = PlatformKeyHash {
        key_id: key.id.clone(),
        account_id: key.account_id.clone(),
        read_only: key.read_only,
    };
    tx.put(
        item(
            k::platform_key(&key.id),
            entity::PLATFORM_KEY,
            key,
            1,
            &key.created_at,
        ),
        Cond::NotExists,
    );
    tx.put(
        item(
            k::platform_key_hash(&key.hash),
            entity::PLATFORM_KEY_HASH,
            &hash_record,
            1,
            &key.created_at,
        ),
        Cond::NotExists,
    );
}

/// Create an account and its first (full-access, live) platform key, in one transaction.
pub async fn create_account(
    table: &dyn Table,
    name: &str,
    now: &str,
) -> ApiResult<(Account, NewKey)> {
    let account = Account {
        id: crate::ids::new_id("acct"),
        name: name.to_string(),
        created_at: now.to_string(),
    };
    let key = new_key(&account.id, false, false, now);
    let mut account_item = item(
        k::account(&account.id),
        entity::ACCOUNT,
        &account,
        1,
        &account.created_at,
    );
    account_item.gsi1 = Some((k::ACCOUNTS.into(), k::account(&account.id).sk));
    let mut tx = Tx::default();
    tx.put(account_item, Cond::NotExists);
    write_key(&mut tx, &key.record);
    tx.commit(table).await?;
    Ok((account, key))
}

/// Create another platform key for an existing account.
pub async fn create_key(
    table: &dyn Table,
    account_id: &str,
    read_only: bool,
    test: bool,
    now: &str,
) -> ApiResult<NewKey> {
    let key = new_key(account_id, read_only, test, now);
    let mut tx = Tx::default();
    let account = tx.check(k::account(account_id), Cond::Exists);
    tx.or_answer(account, ApiError::not_found("Account"));
    write_key(&mut tx, &key.record);
    tx.commit(table).await?;
    Ok(key)
}

/// Revoke a platform key: its hash item goes, so it fails at once; the record stays,
/// marked revoked. Revoking twice is harmless.
pub async fn revoke_key(table: &dyn Table, key_id: &str, now: &str) -> ApiResult<PlatformKey> {
    let Some(found) = table.get(&k::platform_key(key_id)).await? else {
        return Err(ApiError::not_found("Platform key"));
    };
    let mut key: PlatformKey = decode(&found)?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    key.revoked_at = Some(now.to_string());
    let updated = item(
        found.key.clone(),
        entity::PLATFORM_KEY,
        &key,
        found.version + 1,
        &found.created_at,
    );
    let mut tx = Tx::default();
    tx.delete(k::platform_key_hash(&key.hash), Cond::Always);
    tx.put(updated, Cond::Version(found.version));
    tx.commit(table).await?;
    Ok(key)
}

/// The key whose SHA-256 is `hash`, if it exists and is not revoked: one GetItem.
pub async fn find_by_hash(table: &dyn Table, hash: &str) -> ApiResult<Option<PlatformKeyHash>> {
    match table.get(&k::platform_key_hash(hash)).await? {
        Some(found) => Ok(Some(decode(&found)?)),
        None => Ok(None),
    }
}

/// Whether any account exists yet.
pub async fn any_account(table: &dyn Table) -> ApiResult<bool> {
    let page = table
        .query(&Query::index(Index::Gsi1, k::ACCOUNTS).limit(1))
        .await?;
    Ok(!page.items.is_empty())
}
