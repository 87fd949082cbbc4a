//! The `Table` primitives, directly, on both backends: conditions, transactions, queries
//! with cursors and indexes, batches and counters behave the same.

use crate::common::{Store, TestApp};
use runtype::store::{Cond, Index, Item, Key, Position, Query, StoreError, TxOp};
use serde_json::json;

crate::cases! {
    both: [
        conditional_writes,
        transactions_are_all_or_nothing,
        queries_page_in_order,
        index_queries,
        batches_and_counters,
    ],
}

/// A fresh store (its temporary files go with the value).
async fn table(store: Store) -> TestApp {
    TestApp::new(store).await
}

fn item(pk: &str, sk: &str, data: serde_json::Value) -> Item {
    Item {
        key: Key::new(pk, sk),
        gsi1: None,
        gsi2: None,
        entity: "thing".into(),
        version: 1,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
        expires_at: None,
        count: None,
        data,
    }
}

async fn conditional_writes(store: Store) {
    let app = table(store).await;
    let t = app.app.table();
    let data = json!({ "text": "héllo ✓", "nested": { "deep": [1, 2.5, null, true] }, "big": "x".repeat(100_000) });
    let a = item("P#1", "A", data.clone());
    t.put(a.clone(), Cond::NotExists).await.unwrap();
    assert_eq!(
        t.put(a.clone(), Cond::NotExists).await,
        Err(StoreError::ConditionFailed)
    );
    let got = t.get(&a.key).await.unwrap().unwrap();
    assert_eq!(got, a);
    let mut b = a.clone();
    b.version = 2;
    assert_eq!(
        t.put(b.clone(), Cond::Version(7)).await,
        Err(StoreError::ConditionFailed)
    );
    t.put(b.clone(), Cond::Version(1)).await.unwrap();
    assert_eq!(t.get(&a.key).await.unwrap().unwrap().version, 2);
    assert_eq!(
        t.delete(&Key::new("P#1", "nope"), Cond::Exists).await,
        Err(StoreError::ConditionFailed)
    );
    t.delete(&a.key, Cond::Version(2)).await.unwrap();
    assert_eq!(t.get(&a.key).await.unwrap(), None);
    t.delete(&a.key, Cond::Always).await.unwrap();
    assert_eq!(
        t.put(a.clone(), Cond::Exists).await,
        Err(StoreError::ConditionFailed)
    );
}

async fn transactions_are_all_or_nothing(store: Store) {
    let app = table(store).await;
    let t = app.app.table();
    t.put(item("P#1", "TAKEN", json!({})), Cond::Always)
        .await
        .unwrap();
    let ops = vec![
        TxOp::Put {
            item: item("P#1", "NEW", json!({})),
            cond: Cond::NotExists,
        },
        TxOp::Put {
            item: item("P#1", "TAKEN", json!({ "x": 1 })),
            cond: Cond::NotExists,
        },
        TxOp::Check {
            key: Key::new("P#1", "MISSING"),
            cond: Cond::Exists,
        },
    ];
    match t.transact(ops).await {
        Err(StoreError::Cancelled(failed)) => assert!(failed.contains(&1), "{failed:?}"),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(t.get(&Key::new("P#1", "NEW")).await.unwrap(), None);
    assert_eq!(
        t.get(&Key::new("P#1", "TAKEN"))
            .await
            .unwrap()
            .unwrap()
            .data,
        json!({})
    );
    t.transact(vec![
        TxOp::Put {
            item: item("P#1", "NEW", json!({})),
            cond: Cond::NotExists,
        },
        TxOp::Delete {
            key: Key::new("P#1", "TAKEN"),
            cond: Cond::Exists,
        },
        TxOp::Check {
            key: Key::new("P#1", "NEW2"),
            cond: Cond::NotExists,
        },
    ])
    .await
    .unwrap();
    assert!(t.get(&Key::new("P#1", "NEW")).await.unwrap().is_some());
    assert!(t.get(&Key::new("P#1", "TAKEN")).await.unwrap().is_none());
}

async fn queries_page_in_order(store: Store) {
    let app = table(store).await;
    let t = app.app.table();
    for i in 0..30 {
        t.put(
            item("P#q", &format!("A#{i:02}"), json!({ "i": i })),
            Cond::Always,
        )
        .await
        .unwrap();
    }
    t.put(item("P#q", "B#1", json!({})), Cond::Always)
        .await
        .unwrap();
    t.put(item("P#other", "A#00", json!({})), Cond::Always)
        .await
        .unwrap();
    let all = t.query(&Query::partition("P#q")).await.unwrap();
    assert_eq!(all.items.len(), 31);
    assert!(!all.more);
    let mut seen = Vec::new();
    let mut after: Option<Position> = None;
    loop {
        let page = t
            .query(
                &Query::partition("P#q")
                    .prefix("A#")
                    .limit(7)
                    .after(after.clone()),
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|i| i.data["i"].as_i64().unwrap()));
        after = page.items.last().map(|i| Position::of(i, None));
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, (0..30).collect::<Vec<_>>());
    let desc = t
        .query(&Query::partition("P#q").prefix("A#").descending().limit(3))
        .await
        .unwrap();
    let idx: Vec<_> = desc
        .items
        .iter()
        .map(|i| i.data["i"].as_i64().unwrap())
        .collect();
    assert_eq!(idx, [29, 28, 27]);
    assert!(desc.more);
    let exact = t
        .query(&Query::partition("P#q").prefix("B#").limit(1))
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 1);
    assert!(!exact.more, "no more after the only item");
}

async fn index_queries(store: Store) {
    let app = table(store).await;
    let t = app.app.table();
    for i in 0..5 {
        let mut it = item(&format!("P#{i}"), &format!("P#{i}"), json!({ "i": i }));
        it.gsi1 = Some(("OWNER#o".into(), format!("PRODUCT#{i}")));
        t.put(it, Cond::Always).await.unwrap();
    }
    let mut other = item("P#x", "P#x", json!({}));
    other.gsi1 = Some(("OWNER#someone".into(), "PRODUCT#9".into()));
    t.put(other, Cond::Always).await.unwrap();
    let q = Query::index(Index::Gsi1, "OWNER#o").descending().limit(2);
    let first = t.query(&q).await.unwrap();
    let ids: Vec<_> = first
        .items
        .iter()
        .map(|i| i.data["i"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [4, 3]);
    let next = t
        .query(&q.clone().after(Some(Position::of(
            first.items.last().unwrap(),
            Some(Index::Gsi1),
        ))))
        .await
        .unwrap();
    let ids: Vec<_> = next
        .items
        .iter()
        .map(|i| i.data["i"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 1]);
    assert!(next.more);
}

async fn batches_and_counters(store: Store) {
    let app = table(store).await;
    let t = app.app.table();
    let keys: Vec<Key> = (0..60)
        .map(|i| Key::new("P#b", format!("I#{i:03}")))
        .collect();
    for k in &keys {
        t.put(item(&k.pk, &k.sk, json!({})), Cond::Always)
            .await
            .unwrap();
    }
    t.delete_many(&keys).await.unwrap();
    assert!(t
        .query(&Query::partition("P#b"))
        .await
        .unwrap()
        .items
        .is_empty());
    let c = Key::new("COUNTER#x", "COUNTER#x");
    assert_eq!(t.increment(&c, 1, None, None).await.unwrap(), Some(1));
    assert_eq!(
        t.increment(&c, 4, None, Some(4_000_000_000)).await.unwrap(),
        Some(5)
    );
    // a ceiling: up to it and not past it, and a refused add changes nothing
    assert_eq!(t.increment(&c, 2, Some(7), None).await.unwrap(), Some(7));
    assert_eq!(t.increment(&c, 1, Some(7), None).await.unwrap(), None);
    assert_eq!(t.increment(&c, -1, Some(7), None).await.unwrap(), Some(6));
    let fresh = Key::new("COUNTER#y", "COUNTER#y");
    assert_eq!(t.increment(&fresh, 3, Some(2), None).await.unwrap(), None);
    assert_eq!(
        t.increment(&fresh, 2, Some(2), None).await.unwrap(),
        Some(2)
    );
    let got = t.get(&c).await.unwrap().unwrap();
    assert_eq!(got.count, Some(6));
    assert_eq!(got.expires_at, Some(4_000_000_000));
    assert!(!got.is_expired(1_000));
    assert!(got.is_expired(4_000_000_001));
}
