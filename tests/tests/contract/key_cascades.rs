//! Surface keys when what they open goes: deleting a key revokes it at once; capability,
//! item, surface and product deletes cascade to keys and scopes (past transaction limits,
//! and interrupted ones leave no working key); an expired key blocks no delete.
use runtype::router;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::common::{Store, TestApp};
use crate::surface_keys::{fixture, verify, Rejection};
use runtype::store::{Cond, Item, Key, Page, Query, StoreError, StoreResult, Table, TxOp};
use serde_json::{json, Value};

crate::cases! {
    both: [
        deleting_a_key_revokes_it_at_once,
        capability_delete_cascades_to_items_and_scopes,
        surface_and_product_deletes_cascade,
        large_cascades_pass_transaction_limits,
        interrupted_cascade_leaves_no_working_key,
        an_expired_key_does_not_block_deletes,
        a_key_may_name_more_items_than_a_transaction_holds,
    ],
}

async fn deleting_a_key_revokes_it_at_once(store: Store) {
    let f = fixture(store, "api").await;
    let r = f.key(json!({ "name": "doomed" })).await;
    let keep = f.key(json!({ "name": "kept" })).await;
    let key = r.body["key"].as_str().unwrap().to_string();
    assert!(f.verify(&key).await.is_ok());
    let path = format!("{}/{}", f.keys_path(), r.id());
    let d = f.t.call("DELETE", &path, None).await;
    assert_eq!(
        (d.status, d.body.clone()),
        (200, json!({ "success": true }))
    );
    // deleted a moment ago: rejected, from any instance
    assert_eq!(f.verify(&key).await.unwrap_err(), Rejection::Unknown);
    let other = f.t.sibling().await;
    assert_eq!(
        verify(other.table(), &key, chrono::Utc::now())
            .await
            .unwrap()
            .unwrap_err(),
        Rejection::Unknown
    );
    let keys = f.surface().await["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["id"], keep.body["id"]);
    assert_eq!(f.t.call("DELETE", &path, None).await.status, 404);
    assert!(f.verify(keep.body["key"].as_str().unwrap()).await.is_ok());
}

async fn capability_delete_cascades_to_items_and_scopes(store: Store) {
    let f = fixture(store, "api").await;
    let both = f.key(json!({ "scopes": ["tool0", f.caps[1]] })).await;
    let only = f.key(json!({ "scopes": ["tool0"] })).await;
    let all = f.key(json!({})).await;
    let r =
        f.t.send(&router::DELETE_CAPABILITY, [&f.p, &f.caps[0]], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    let s = f.surface().await;
    let items: Vec<_> = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(items, [json!(f.items[1])]);
    let key = |id: &Value| {
        s["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == *id)
            .unwrap()
            .clone()
    };
    assert_eq!(key(&both.body["id"])["scopes"], json!([f.caps[1]]));
    assert_eq!(key(&both.body["id"])["scopeTargetIds"], json!([f.items[1]]));
    assert_eq!(
        key(&only.body["id"])["scopes"],
        json!([]),
        "scoped to nothing, never widened to *"
    );
    assert_eq!(key(&all.body["id"])["scopes"], json!(["*"]));
    // verification sees the narrowed scopes too
    let v = f.verify(both.body["key"].as_str().unwrap()).await.unwrap();
    assert!(!v.allows(&f.items[0]) && v.allows(&f.items[1]));
    let v = f.verify(only.body["key"].as_str().unwrap()).await.unwrap();
    assert!(!v.allows(&f.items[0]) && !v.allows(&f.items[1]));
    // the capability's slug and binding are free again
    let c = f.t.capability(&f.p, "Answer questions").await;
    let r =
        f.t.send(
            &router::ADD_SURFACE_ITEM,
            [&f.p, &f.s],
            Some(json!({ "capabilityId": c })),
        )
        .await;
    assert_eq!(r.body["endpointSlug"], "answer-questions");
    // deleting an item narrows scopes the same way
    let d =
        f.t.send(
            &router::DELETE_SURFACE_ITEM,
            [&f.p, &f.s, &f.items[1]],
            None,
        )
        .await;
    assert_eq!(d.status, 200);
    let s = f.surface().await;
    let k = s["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == both.body["id"])
        .unwrap()
        .clone();
    assert_eq!(k["scopeTargetIds"], json!([]));
}

async fn partition_is_empty(t: &TestApp, product: &str) -> bool {
    t.app
        .table()
        .query(&Query::partition(format!("PRODUCT#{product}")))
        .await
        .unwrap()
        .items
        .is_empty()
}

async fn surface_and_product_deletes_cascade(store: Store) {
    let f = fixture(store, "mcp").await;
    let k1 = f.key(json!({})).await.body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = f.t.send(&router::DELETE_SURFACE, [&f.p, &f.s], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(f.verify(&k1).await.unwrap_err(), Rejection::Unknown);
    assert_eq!(
        f.t.send(&router::GET_SURFACE, [&f.p, &f.s], None)
            .await
            .status,
        404
    );
    let left =
        f.t.app
            .table()
            .query(&Query::partition(format!("PRODUCT#{}", f.p)).prefix("SURFACE#"))
            .await
            .unwrap();
    assert!(
        left.items.is_empty(),
        "{:?}",
        left.items.iter().map(|i| &i.key).collect::<Vec<_>>()
    );
    // the product delete takes surfaces, keys and hash items with it
    let s = f.t.surface(&f.p, "a", "a2a").await;
    let k2 = f.t.surface_key(&f.p, &s).await;
    assert!(f.verify(&k2).await.is_ok());
    assert_eq!(
        f.t.send(&router::DELETE_PRODUCT, [&f.p], None).await.status,
        200
    );
    assert_eq!(f.verify(&k2).await.unwrap_err(), Rejection::Unknown);
    assert!(partition_is_empty(&f.t, &f.p).await);
    let hash_item = runtype::repo::layout::surface_key_hash(&runtype::secrets::hash(&k2));
    assert_eq!(
        f.t.app.table().get(&hash_item).await.unwrap(),
        None,
        "the hash item is gone"
    );
}

/// `n` new capabilities of `p`, each bound to surface `s` with `fields`: the items' ids.
async fn bind_capabilities(t: &TestApp, p: &str, s: &str, n: usize, fields: Value) -> Vec<String> {
    let mut items = Vec::new();
    for i in 0..n {
        let mut body = fields.clone();
        body["capabilityId"] = json!(t.capability(p, &format!("capability {i}")).await);
        let r = t
            .send(&router::ADD_SURFACE_ITEM, [p, s], Some(body))
            .await
            .expect(201);
        items.push(r.id());
    }
    items
}

/// A product of > 150 items: 60 capabilities bound to one surface (items, bindings, slugs)
/// and keys, deleted past the 100-operation transaction and 25-item batch limits.
async fn big_product(t: &TestApp) -> (String, String, Vec<String>) {
    let p = t.product("big").await;
    let s = t.surface(&p, "s", "api").await;
    bind_capabilities(t, &p, &s, 60, json!({})).await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let r = t
            .send(&router::CREATE_SURFACE_KEY, [&p, &s], Some(json!({})))
            .await;
        keys.push(r.body["key"].as_str().unwrap().to_string());
    }
    (p, s, keys)
}

async fn large_cascades_pass_transaction_limits(store: Store) {
    let t = TestApp::new(store).await;
    let (p, s, keys) = big_product(&t).await;
    let stored = t
        .app
        .table()
        .query(&Query::partition(format!("PRODUCT#{p}")))
        .await
        .unwrap();
    assert!(stored.items.len() > 150, "{}", stored.items.len());
    t.send(&router::DELETE_SURFACE, [&p, &s], None)
        .await
        .expect(200);
    for k in &keys {
        assert_eq!(
            verify(t.app.table(), k, chrono::Utc::now())
                .await
                .unwrap()
                .unwrap_err(),
            Rejection::Unknown
        );
    }
    let left = t
        .app
        .table()
        .query(&Query::partition(format!("PRODUCT#{p}")).prefix("SURFACE#"))
        .await
        .unwrap();
    assert!(left.items.is_empty());
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["capabilities"].as_array().unwrap().len(), 60);
    // and the product, with 121 items left, in one more
    let (p2, _, keys2) = big_product(&t).await;
    assert_eq!(
        t.send(&router::DELETE_PRODUCT, [&p2], None).await.status,
        200
    );
    assert!(partition_is_empty(&t, &p2).await);
    for k in &keys2 {
        assert_eq!(
            verify(t.app.table(), k, chrono::Utc::now())
                .await
                .unwrap()
                .unwrap_err(),
            Rejection::Unknown
        );
    }
    assert_eq!(
        t.send(&router::DELETE_PRODUCT, [&p], None).await.status,
        200
    );
    assert!(partition_is_empty(&t, &p).await);
}

/// A table that fails every write after the first `allowed` ones: the cascade stops part
/// way, as a Lambda timing out would stop it.
struct Interrupting {
    inner: Arc<dyn Table>,
    allowed: AtomicI64,
}

impl Interrupting {
    fn spend(&self) -> StoreResult<()> {
        if self.allowed.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(StoreError::Unavailable("interrupted".into()))
        }
    }
}

#[async_trait::async_trait]
impl Table for Interrupting {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, cond: Cond) -> StoreResult<()> {
        self.spend()?;
        self.inner.put(item, cond).await
    }
    async fn delete(&self, key: &Key, cond: Cond) -> StoreResult<()> {
        self.spend()?;
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.spend()?;
        self.inner.transact(ops).await
    }
    async fn query(&self, q: &Query) -> StoreResult<Page> {
        self.inner.query(q).await
    }
    async fn delete_many(&self, keys: &[Key]) -> StoreResult<()> {
        self.spend()?;
        self.inner.delete_many(keys).await
    }
    async fn increment(
        &self,
        key: &Key,
        delta: i64,
        ceiling: Option<i64>,
        expires_at: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        self.spend()?;
        self.inner.increment(key, delta, ceiling, expires_at).await
    }
}

async fn interrupted_cascade_leaves_no_working_key(store: Store) {
    let t = TestApp::new(store).await;
    let (p, _, keys) = big_product(&t).await;
    // the first write (the batch of key hash items) goes through, then the cascade dies
    let broken = runtype::app::App::with_table(
        Arc::new(Interrupting {
            inner: t.app.table_handle(),
            allowed: AtomicI64::new(1),
        }),
        t.app.requests.clone(),
        crate::common::config(),
    );
    let req = http::Request::builder()
        .method("DELETE")
        .uri(format!("/v1/products/{p}"))
        .header("authorization", format!("Bearer {}", t.key))
        .body(bytes::Bytes::new())
        .unwrap();
    let r = crate::common::send(&broken, req).await;
    assert_eq!(r.status, 503, "{r:?}");
    for k in &keys {
        assert_eq!(
            verify(t.app.table(), k, chrono::Utc::now())
                .await
                .unwrap()
                .unwrap_err(),
            Rejection::Unknown,
            "no deleted key still verifies"
        );
    }
    // the product is still there, and repeating the DELETE finishes it
    assert_eq!(t.send(&router::GET_PRODUCT, [&p], None).await.status, 200);
    assert_eq!(
        t.send(&router::DELETE_PRODUCT, [&p], None).await.status,
        200
    );
    assert!(partition_is_empty(&t, &p).await);
}

/// A key that expired, and whose hash item the table's TTL already removed, does not stand in
/// the way of deleting what its scopes name.
async fn an_expired_key_does_not_block_deletes(store: Store) {
    let f = fixture(store, "api").await;
    let r = f
        .key(json!({ "scopes": ["tool0", "tool1"], "expiresAt": "2099-01-01T00:00:00Z" }))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.id();
    // it expired, and TTL took its hash item (as DynamoDB would)
    let table = f.t.app.table();
    let record_key = runtype::repo::layout::surface_key(&f.p, &f.s, &id);
    let found = table.get(&record_key).await.unwrap().unwrap();
    let mut key: runtype::model::SurfaceKey = serde_json::from_value(found.data.clone()).unwrap();
    key.expires_at = Some("2020-01-01T00:00:00.000Z".into());
    let [record, _] = runtype::repo::surface_keys::key_items(
        &key,
        runtype::model::KeyKind::Papi,
        found.version + 1,
    );
    table
        .put(record, runtype::store::Cond::Version(found.version))
        .await
        .unwrap();
    table
        .delete(
            &runtype::repo::layout::surface_key_hash(&key.hash),
            runtype::store::Cond::Always,
        )
        .await
        .unwrap();
    // an item and a capability its scopes name can still be deleted
    let r =
        f.t.send(
            &router::DELETE_SURFACE_ITEM,
            [&f.p, &f.s, &f.items[1]],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r =
        f.t.send(&router::DELETE_CAPABILITY, [&f.p, &f.caps[0]], None)
            .await;
    assert_eq!(r.status, 200, "{r:?}");
    // and the expired key is still refused
    let hash = runtype::repo::layout::surface_key_hash(&key.hash);
    assert!(
        table.get(&hash).await.unwrap().is_none(),
        "not brought back"
    );
}

/// A key whose scopes name more items than one transaction may hold operations (one entry,
/// an exposed name the items share, names them all): the create
/// checks the surface's items as read with one operation (their count's version), not one
/// per item, and deleting one of them later still rewrites the key.
async fn a_key_may_name_more_items_than_a_transaction_holds(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("wide").await;
    let s = t.surface(&p, "s", "api").await;
    let items = bind_capabilities(&t, &p, &s, 150, json!({ "exposedName": "shared tool" })).await;
    let keys = format!("/v1/products/{p}/surfaces/{s}/keys");
    let r = t
        .call("POST", &keys, Some(json!({ "scopes": ["shared tool"] })))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let plaintext = r.body["key"].as_str().unwrap().to_string();
    t.send(&router::DELETE_SURFACE_ITEM, [&p, &s, &items[0]], None)
        .await
        .expect(200);
    let verified = verify(t.app.table(), &plaintext, chrono::Utc::now())
        .await
        .unwrap()
        .expect("the key still verifies");
    assert_eq!(verified.key.scope_target_ids.len(), 149);
    assert!(!verified.key.scope_target_ids.contains(&items[0]));
}
