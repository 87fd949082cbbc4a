//! The embedded backend: one SQLite file in WAL mode. Several processes (`runtype serve` and
//! other `runtype` commands) may use the file at once: writes take SQLite's write lock with
//! `BEGIN IMMEDIATE` and wait for it (busy timeout) instead of failing. Within a process,
//! writes are group-committed by one writer thread and reads run on their own connections.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, ErrorCode, OptionalExtension};

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
    /// Writes go to one writer thread, which commits whatever has queued up meanwhile as one
    /// transaction: many concurrent writes cost one commit.
    writer: std::sync::mpsc::Sender<Job>,
    /// Reads run on their own connections, beside the writer (WAL: readers never wait).
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    counter: RequestCounter,
}

/// A write to run inside the writer's transaction (or, if it could not begin, told why);
/// it answers how to reply once the transaction has committed (or failed to), and whether
/// it failed part-way, leaving changes it cannot take back (the whole group is then rolled
/// back).
type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> (Reply, bool) + Send>;
type Reply = Box<dyn FnOnce(&StoreResult<()>) + Send>;

/// Most writes committed together.
const GROUP: usize = 256;
/// Read connections.
const READERS: usize = 4;

/// Create the directories of `dir` that do not exist yet, readable by the owner alone (the
/// ones that already exist are left as they are).
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A new data file, readable by the owner alone; SQLite gives its WAL and shared-memory
/// files the same permissions. An existing file is left as it is.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn connect(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(map_err)?;
    Ok(conn)
}

impl SqliteTable {
    /// Open (creating directories, file and schema as needed).
    pub fn open(path: &Path, counter: RequestCounter) -> StoreResult<SqliteTable> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dirs(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        create_private_file(path).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        })?;
        let conn = connect(path)?;
        // a new file: pages large enough that a record rarely spills onto overflow pages
        // (takes effect only before the first table is made)
        conn.pragma_update(None, "page_size", 16384)
            .map_err(map_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
        // checkpoint less often: a page written many times is copied back once
        conn.pragma_update(None, "wal_autocheckpoint", 2000)
            .map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(map_err)?;
        conn.execute_batch(SCHEMA).map_err(map_err)?;
        let readers = (0..READERS)
            .map(|_| connect(path).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        let (writer, jobs) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("runtype-sqlite-writer".into())
            .spawn(move || write_groups(conn, jobs))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer: {e}")))?;
        Ok(SqliteTable {
            writer,
            readers: Arc::new(readers),
            next_reader: Default::default(),
            counter,
        })
    }

    /// Count a round trip: requests issued together (joined) all start before any can
    /// finish, as they do over a network, so the counter sees them as one.
    async fn round(&self) -> super::counter::InFlight {
        self.counter.request();
        let round = self.counter.begin();
        tokio::task::yield_now().await;
        round
    }

    /// Run `f` on a read connection, on the caller's thread: a WAL read never waits for a
    /// writer, and handing it to a blocking pool cost more than most reads take.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let _round = self.round().await;
        let at = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % READERS;
        let conn = self.readers[at].lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// Run `f` in the writer's next transaction; its answer once that has committed. Every
    /// write checks its conditions before it changes anything (so nothing needs a savepoint,
    /// which would journal every page it touches); one that fails after changing something
    /// anyway takes its whole group down with it, unwritten.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _round = self.round().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let (answer, spoiled) = match conn {
                Err(e) => (Err(e.clone()), false),
                Ok(conn) => {
                    let before = conn.total_changes();
                    let answer = f(conn);
                    let spoiled = answer.is_err() && conn.total_changes() != before;
                    (answer, spoiled)
                }
            };
            let reply: Reply = Box::new(move |committed: &StoreResult<()>| {
                let _ = tx.send(match committed {
                    Ok(()) => answer,
                    Err(e) => Err(e.clone()),
                });
            });
            (reply, spoiled)
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::Internal("the sqlite writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Internal("the sqlite writer stopped".into()))?
    }
}

/// The writer thread: take the first waiting write, and every other one queued by then (up
/// to `GROUP`), run them in one `BEGIN IMMEDIATE` transaction, commit, then answer them all.
fn write_groups(conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err);
        let mut spoiled = false;
        let replies: Vec<Reply> = group
            .into_iter()
            .map(|job| {
                let (reply, partial) = job(begun.as_ref().map(|_| &conn));
                spoiled |= partial;
                reply
            })
            .collect();
        let committed = match begun {
            Err(e) => Err(e),
            Ok(()) if spoiled => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(StoreError::Unavailable(
                    "a write failed part-way; nothing was written".into(),
                ))
            }
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                map_err(e)
            }),
        };
        for reply in replies {
            reply(&committed);
        }
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
    conn.prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row([&key.pk, &key.sk], |r| r.get::<_, i64>(0))
                .optional()
        })
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

/// An item's record as stored (made before the write reaches the writer thread, so the
/// writer spends its time writing).
fn encode(item: &Item) -> StoreResult<String> {
    serde_json::to_string(&item.data).map_err(|e| StoreError::Internal(e.to_string()))
}

fn write_item(conn: &Connection, item: &Item, data: &str) -> StoreResult<()> {
    let mut stmt = conn
        // an upsert rewrites a row in place, touching only the indexes whose keys change
        .prepare_cached(&format!(
            "INSERT INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (pk, sk) DO UPDATE SET
                gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
                gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk,
                type = excluded.type, version = excluded.version,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                expires_at = excluded.expires_at, data = excluded.data, count = NULL"
        ))
        .map_err(map_err)?;
    stmt.execute(rusqlite::params![
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
    ])
    .map_err(map_err)?;
    Ok(())
}

/// Each put's record as stored (`encode`); other operations store nothing.
fn encode_ops(ops: &[TxOp]) -> StoreResult<Vec<String>> {
    ops.iter()
        .map(|op| match op {
            TxOp::Put { item, .. } => encode(item),
            _ => Ok(String::new()),
        })
        .collect()
}

/// The positions of the operations whose condition does not hold.
fn failed_conditions(conn: &Connection, ops: &[TxOp]) -> StoreResult<Vec<usize>> {
    let mut failed = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (key, cond) = match op {
            TxOp::Put { item, cond } => (&item.key, *cond),
            TxOp::Delete { key, cond } | TxOp::Check { key, cond } => (key, *cond),
            TxOp::Add {
                key,
                delta,
                ceiling: Some(ceiling),
            } => {
                if count_of(conn, key)? + delta > *ceiling {
                    failed.push(i);
                }
                continue;
            }
            TxOp::Add { .. } => continue,
        };
        if !holds(conn, key, cond)? {
            failed.push(i);
        }
    }
    Ok(failed)
}

/// Write the operations (their conditions checked), `data` being `encode_ops` of them.
fn apply(conn: &Connection, ops: &[TxOp], data: &[String]) -> StoreResult<()> {
    for (op, data) in ops.iter().zip(data) {
        match op {
            TxOp::Put { item, .. } => write_item(conn, item, data)?,
            TxOp::Delete { key, .. } => delete_row(conn, key)?,
            TxOp::Check { .. } => {}
            TxOp::Add { key, delta, .. } => {
                bump(conn, key, *delta, None, None)?;
            }
        }
    }
    Ok(())
}

/// The counter's value (0 when it does not exist yet).
fn count_of(conn: &Connection, key: &Key) -> StoreResult<i64> {
    conn.prepare_cached("SELECT coalesce(count, 0) FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row([&key.pk, &key.sk], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|n| n.unwrap_or(0))
        .map_err(map_err)
}

fn delete_row(conn: &Connection, key: &Key) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| stmt.execute([&key.pk, &key.sk]))
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
        let counter = &self.counter;
        self.read(|conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {READ_COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
                ))
                .and_then(|mut stmt| stmt.query_row([&key.pk, &key.sk], read_row).optional())
                .map_err(map_err)?;
            counter.read_items(usize::from(row.is_some()));
            row.map(finish).transpose()
        })
        .await
    }

    async fn put(&self, item: Item, cond: Cond) -> StoreResult<()> {
        let data = encode(&item)?;
        self.write(move |conn| {
            if !holds(conn, &item.key, cond)? {
                return Err(StoreError::ConditionFailed);
            }
            write_item(conn, &item, &data)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Cond) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |conn| {
            if !holds(conn, &key, cond)? {
                return Err(StoreError::ConditionFailed);
            }
            delete_row(conn, &key)?;
            Ok(())
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
        let data = encode_ops(&ops)?;
        self.write(move |conn| {
            let failed = failed_conditions(conn, &ops)?;
            if !failed.is_empty() {
                return Err(StoreError::Cancelled(failed));
            }
            apply(conn, &ops, &data)?;
            Ok(())
        })
        .await
    }

    async fn transact_each(&self, groups: Vec<Vec<TxOp>>) -> Vec<StoreResult<()>> {
        let n = groups.len();
        let data: Vec<Vec<String>> = match groups.iter().map(|ops| encode_ops(ops)).collect() {
            Ok(d) => d,
            Err(e) => return vec![Err(e); n],
        };
        let written = self
            .write(move |conn| {
                let mut answers = Vec::with_capacity(groups.len());
                for (ops, data) in groups.iter().zip(&data) {
                    let failed = failed_conditions(conn, ops)?;
                    if failed.is_empty() {
                        apply(conn, ops, data)?;
                        answers.push(Ok(()));
                    } else {
                        answers.push(Err(match ops.len() {
                            1 => StoreError::ConditionFailed,
                            _ => StoreError::Cancelled(failed),
                        }));
                    }
                }
                Ok(answers)
            })
            .await;
        match written {
            Ok(answers) => answers,
            Err(e) => vec![Err(e); n],
        }
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let counter = &self.counter;
        self.read(|conn| {
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
            // in the text, not a parameter: SQLite (built with STAT4) prepares a statement
            // again every time a LIMIT parameter is bound; and most reads have no limit
            if q.limit < usize::MAX {
                sql += &format!(" LIMIT {}", q.limit.saturating_add(1));
            }
            let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
            let rows = stmt
                .query_map(params_from_iter(args), read_row)
                .map_err(map_err)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(finish(row.map_err(map_err)?)?);
            }
            counter.read_items(items.len());
            let more = items.len() > q.limit;
            items.truncate(q.limit);
            Ok(Page { items, more })
        })
        .await
    }

    async fn delete_many(&self, keys: &[Key]) -> StoreResult<()> {
        for chunk in keys.chunks(super::MAX_BATCH) {
            let chunk = chunk.to_vec();
            self.write(move |conn| {
                for key in &chunk {
                    delete_row(conn, key)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn purge_expired(&self, now_unix: i64) -> StoreResult<usize> {
        self.write(move |conn| {
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
        self.write(move |conn| bump(conn, &key, delta, ceiling, expires_at))
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

    fn admits_in_one_step(&self) -> bool {
        true
    }

    /// Counters, items and counts in one write transaction, under the file's lock.
    async fn admit(&self, a: Admit) -> StoreResult<Result<Vec<i64>, Vec<usize>>> {
        let data = a.puts.iter().map(encode).collect::<StoreResult<Vec<_>>>()?;
        // everything checked before anything is written: the writer's transaction makes
        // the checks and the writes one step
        self.write(move |conn| {
            let mut values = Vec::with_capacity(a.limited.len());
            let mut refused = Vec::new();
            for (i, b) in a.limited.iter().enumerate() {
                let after = count_of(conn, &b.key)? + b.delta;
                match b.ceiling {
                    Some(ceiling) if after > ceiling => refused.push(i),
                    _ => values.push(after),
                }
            }
            if !refused.is_empty() {
                return Ok(Err(refused));
            }
            for item in &a.puts {
                if !holds(conn, &item.key, Cond::NotExists)? {
                    return Err(StoreError::ConditionFailed);
                }
            }
            for b in a.limited.iter().chain(&a.counts) {
                bump(conn, &b.key, b.delta, None, b.expires_at)?;
            }
            for (item, data) in a.puts.iter().zip(&data) {
                write_item(conn, item, data)?;
            }
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
    let mut stmt = conn
        .prepare_cached(
        "INSERT INTO items (pk, sk, type, version, created_at, updated_at, expires_at, data, count)
         VALUES (?1, ?2, 'counter', 1, ?3, ?3, ?4, '{}', ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET
            count = coalesce(count, 0) + excluded.count,
            version = version + 1,
            updated_at = excluded.updated_at,
            expires_at = coalesce(excluded.expires_at, expires_at)
         WHERE ?6 IS NULL OR coalesce(count, 0) + excluded.count <= ?6
         RETURNING count",
        )
        .map_err(map_err)?;
    stmt.query_row(
        rusqlite::params![
            key.pk,
            key.sk,
            crate::time::Clock::system().now_string(),
            expires_at,
            delta,
            ceiling
        ],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map_err(map_err)
}
