//! The embedded backend: one SQLite file in WAL mode. Several processes (`runtype serve` and
//! other `runtype` commands) may use the file at once: writes take SQLite's write lock with
//! `BEGIN IMMEDIATE` and wait for it (busy timeout) instead of failing.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::{
    Admit, Bump, Cond, Index, Item, Key, Page, Query, RequestCounter, StoreError, StoreResult,
    Table, TxOp,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT, gsi1sk TEXT,
    gsi2pk TEXT, gsi2sk TEXT,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at INTEGER,
    data TEXT NOT NULL,
    count INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
";

const COLUMNS: &str =
    "pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, type, version, created_at, updated_at, expires_at, data";
/// What is read back: the written columns and a counter's value.
const READ_COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, type, version, created_at, updated_at, expires_at, data, count";

pub struct SqliteTable {
    conn: Arc<Mutex<Connection>>,
    counter: RequestCounter,
}

impl SqliteTable {
    /// Open (creating directories, file and schema as needed).
    pub fn open(path: &Path, counter: RequestCounter) -> StoreResult<SqliteTable> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(map_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(map_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(map_err)?;
        conn.execute_batch(SCHEMA).map_err(map_err)?;
        Ok(SqliteTable {
            conn: Arc::new(Mutex::new(conn)),
            counter,
        })
    }

    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.counter.request();
        let _round = self.counter.begin();
        // Requests issued together (joined) all start before any can finish, as they do over
        // a network, so the counter sees them as one round trip.
        tokio::task::yield_now().await;
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite worker failed: {e}")))?
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(ErrorCode::ReadOnly | ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn current_version(conn: &Connection, key: &Key) -> StoreResult<Option<u64>> {
    conn.query_row(
        "SELECT version FROM items WHERE pk = ?1 AND sk = ?2",
        [&key.pk, &key.sk],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|v| v.map(|v| v as u64))
    .map_err(map_err)
}

fn holds(conn: &Connection, key: &Key, cond: Cond) -> StoreResult<bool> {
    if cond == Cond::Always {
        return Ok(true);
    }
    let v = current_version(conn, key)?;
    Ok(match cond {
        Cond::Always => true,
        Cond::NotExists => v.is_none(),
        Cond::Exists => v.is_some(),
        Cond::Version(want) => v == Some(want),
    })
}

fn write_item(conn: &Connection, item: &Item) -> StoreResult<()> {
    let data =
        serde_json::to_string(&item.data).map_err(|e| StoreError::Internal(e.to_string()))?;
    conn.execute(
        &format!("INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        rusqlite::params![
            item.key.pk,
            item.key.sk,
            item.gsi1.as_ref().map(|g| &g.0),
            item.gsi1.as_ref().map(|g| &g.1),
            item.gsi2.as_ref().map(|g| &g.0),
            item.gsi2.as_ref().map(|g| &g.1),
            item.entity,
            item.version as i64,
            item.created_at,
            item.updated_at,
            item.expires_at,
            data,
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

fn delete_row(conn: &Connection, key: &Key) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
        [&key.pk, &key.sk],
    )
    .map_err(map_err)?;
    Ok(())
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Item, String)> {
    let pair = |a: Option<String>, b: Option<String>| a.zip(b);
    let item = Item {
        key: Key::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
        gsi1: pair(r.get(2)?, r.get(3)?),
        gsi2: pair(r.get(4)?, r.get(5)?),
        entity: r.get(6)?,
        version: r.get::<_, i64>(7)? as u64,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        expires_at: r.get(10)?,
        count: r.get(12)?,
        data: serde_json::Value::Null,
    };
    Ok((item, r.get(11)?))
}

fn finish(row: (Item, String)) -> StoreResult<Item> {
    let (mut item, data) = row;
    item.data = serde_json::from_str(&data)
        .map_err(|e| StoreError::Internal(format!("corrupt item data: {e}")))?;
    Ok(item)
}

/// The exclusive upper bound of all strings starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let key = key.clone();
        self.run(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {READ_COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"),
                    [&key.pk, &key.sk],
                    read_row,
                )
                .optional()
                .map_err(map_err)?;
            row.map(finish).transpose()
        })
        .await
    }

    async fn put(&self, item: Item, cond: Cond) -> StoreResult<()> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            if !holds(&tx, &item.key, cond)? {
                return Err(StoreError::ConditionFailed);
            }
            write_item(&tx, &item)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Cond) -> StoreResult<()> {
        let key = key.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            if !holds(&tx, &key, cond)? {
                return Err(StoreError::ConditionFailed);
            }
            delete_row(&tx, &key)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        if ops.len() > super::MAX_TX_OPS {
            return Err(StoreError::Internal(format!(
                "transaction of {} operations exceeds {}",
                ops.len(),
                super::MAX_TX_OPS
            )));
        }
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let mut failed = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                let (key, cond) = match op {
                    TxOp::Put { item, cond } => (&item.key, *cond),
                    TxOp::Delete { key, cond } | TxOp::Check { key, cond } => (key, *cond),
                };
                if !holds(&tx, key, cond)? {
                    failed.push(i);
                }
            }
            if !failed.is_empty() {
                return Err(StoreError::Cancelled(failed));
            }
            for op in &ops {
                match op {
                    TxOp::Put { item, .. } => write_item(&tx, item)?,
                    TxOp::Delete { key, .. } => delete_row(&tx, key)?,
                    TxOp::Check { .. } => {}
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let q = q.clone();
        self.run(move |conn| {
            let (pk_col, sk_col) = match q.index {
                None => ("pk", "sk"),
                Some(Index::Gsi1) => ("gsi1pk", "gsi1sk"),
                Some(Index::Gsi2) => ("gsi2pk", "gsi2sk"),
            };
            let mut sql = format!("SELECT {READ_COLUMNS} FROM items WHERE {pk_col} = ?");
            let mut args: Vec<Sql> = vec![Sql::Text(q.pk.clone())];
            if let Some(p) = &q.sk_prefix {
                sql += &format!(" AND {sk_col} >= ? AND {sk_col} < ?");
                args.push(Sql::Text(p.clone()));
                args.push(Sql::Text(prefix_end(p)));
            }
            if let Some(max) = &q.sk_max {
                sql += &format!(" AND {sk_col} <= ?");
                args.push(Sql::Text(max.clone()));
            }
            let cmp = if q.descending { "<" } else { ">" };
            let dir = if q.descending { "DESC" } else { "ASC" };
            if let Some(after) = &q.start_after {
                match (q.index, &after.index_key) {
                    (None, _) => {
                        sql += &format!(" AND sk {cmp} ?");
                        args.push(Sql::Text(after.key.sk.clone()));
                    }
                    (Some(_), Some((_, isk))) => {
                        sql += &format!(" AND ({sk_col}, pk, sk) {cmp} (?, ?, ?)");
                        args.push(Sql::Text(isk.clone()));
                        args.push(Sql::Text(after.key.pk.clone()));
                        args.push(Sql::Text(after.key.sk.clone()));
                    }
                    (Some(_), None) => {
                        return Err(StoreError::Internal(
                            "index position without index key".into(),
                        ))
                    }
                }
            }
            sql += &match q.index {
                None => format!(" ORDER BY sk {dir}"),
                Some(_) => format!(" ORDER BY {sk_col} {dir}, pk {dir}, sk {dir}"),
            };
            let fetch = q.limit.saturating_add(1).min(i64::MAX as usize) as i64;
            sql += " LIMIT ?";
            args.push(Sql::Integer(fetch));
            let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
            let rows = stmt
                .query_map(params_from_iter(args), read_row)
                .map_err(map_err)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(finish(row.map_err(map_err)?)?);
            }
            let more = items.len() > q.limit;
            items.truncate(q.limit);
            Ok(Page { items, more })
        })
        .await
    }

    async fn delete_many(&self, keys: &[Key]) -> StoreResult<()> {
        for chunk in keys.chunks(super::MAX_BATCH) {
            let chunk = chunk.to_vec();
            self.run(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                for key in &chunk {
                    delete_row(&tx, key)?;
                }
                tx.commit().map_err(map_err)
            })
            .await?;
        }
        Ok(())
    }

    async fn purge_expired(&self, now_unix: i64) -> StoreResult<usize> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                [now_unix],
            )
            .map_err(map_err)
        })
        .await
    }

    async fn increment(
        &self,
        key: &Key,
        delta: i64,
        ceiling: Option<i64>,
        expires_at: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        if ceiling.is_some_and(|c| delta > c) {
            return Ok(None);
        }
        let key = key.clone();
        // One statement: SQLite's write lock makes the check and the add one step, across
        // processes sharing the file.
        self.run(move |conn| bump(conn, &key, delta, ceiling, expires_at))
            .await
    }

    /// All or nothing in one write transaction: nothing to take back.
    async fn increment_all(&self, bumps: &[Bump]) -> StoreResult<Result<Vec<i64>, Vec<usize>>> {
        self.admit(Admit {
            limited: bumps.to_vec(),
            ..Admit::default()
        })
        .await
    }

    /// Counters, items and counts in one write transaction, under the file's lock.
    async fn admit(&self, a: Admit) -> StoreResult<Result<Vec<i64>, Vec<usize>>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let mut values = Vec::with_capacity(a.limited.len());
            let mut refused = Vec::new();
            for (i, b) in a.limited.iter().enumerate() {
                match bump(&tx, &b.key, b.delta, b.ceiling, b.expires_at)? {
                    Some(v) => values.push(v),
                    None => refused.push(i),
                }
            }
            if !refused.is_empty() {
                // dropping the transaction rolls every add back
                return Ok(Err(refused));
            }
            for item in &a.puts {
                if !holds(&tx, &item.key, Cond::NotExists)? {
                    return Err(StoreError::ConditionFailed);
                }
                write_item(&tx, item)?;
            }
            for b in &a.counts {
                bump(&tx, &b.key, b.delta, b.ceiling, b.expires_at)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(Ok(values))
        })
        .await
    }
}

/// Add `delta` to the counter at `key` unless that passes `ceiling`; the new value.
fn bump(
    conn: &Connection,
    key: &Key,
    delta: i64,
    ceiling: Option<i64>,
    expires_at: Option<i64>,
) -> StoreResult<Option<i64>> {
    conn.query_row(
        "INSERT INTO items (pk, sk, type, version, created_at, updated_at, expires_at, data, count)
         VALUES (?1, ?2, 'counter', 1, ?3, ?3, ?4, '{}', ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET
            count = coalesce(count, 0) + excluded.count,
            version = version + 1,
            updated_at = excluded.updated_at,
            expires_at = coalesce(excluded.expires_at, expires_at)
         WHERE ?6 IS NULL OR coalesce(count, 0) + excluded.count <= ?6
         RETURNING count",
        rusqlite::params![
            key.pk,
            key.sk,
            crate::time::now_string(),
            expires_at,
            delta,
            ceiling
        ],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map_err(map_err)
}
