//! Concurrency: uniqueness and "no lost update" hold under racing requests from separate
//! app instances (as separate Lambda instances or processes would race).

use crate::common::{Store, TestApp};
use runtype::router;
use serde_json::json;

crate::cases! {
    both: [
        racing_creates_of_one_name_give_one_winner,
        racing_product_updates_lose_nothing,
        racing_capability_creates_get_distinct_positions,
    ],
}

const RACERS: usize = 8;

async fn racing_creates_of_one_name_give_one_winner(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let mut apps = Vec::new();
    for _ in 0..RACERS {
        apps.push(std::sync::Arc::new(t.sibling().await));
    }
    let key = t.key.clone();
    let tasks: Vec<_> = apps
        .into_iter()
        .map(|app| {
            let (key, p) = (key.clone(), p.clone());
            tokio::spawn(async move {
                let req = http::Request::builder()
                    .method("POST")
                    .uri(format!("/v1/products/{p}/capabilities"))
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(bytes::Bytes::from(
                        json!({ "capabilityName": "same", "flowId": "f" }).to_string(),
                    ))
                    .unwrap();
                crate::common::send(&app, req).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["capabilities"].as_array().unwrap().len(), 1);
}

async fn racing_product_updates_lose_nothing(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let app = std::sync::Arc::new(t.sibling().await);
        let (key, p) = (t.key.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let req = http::Request::builder()
                .method("PUT")
                .uri(format!("/v1/products/{p}"))
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(bytes::Bytes::from(
                    json!({ "canvas": { format!("k{i}"): i } }).to_string(),
                ))
                .unwrap();
            crate::common::send(&app, req).await.status
        }));
    }
    let mut acknowledged = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 409, "{status}");
        if status == 200 {
            acknowledged.push(i);
        }
    }
    assert!(!acknowledged.is_empty());
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    for i in acknowledged {
        assert_eq!(
            g.body["canvas"][format!("k{i}")],
            i,
            "update {i} was acknowledged, then lost: {}",
            g.body["canvas"]
        );
    }
}

async fn racing_capability_creates_get_distinct_positions(store: Store) {
    let t = TestApp::new(store).await;
    let p = t.product("p").await;
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let app = std::sync::Arc::new(t.sibling().await);
        let (key, p) = (t.key.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let req = http::Request::builder()
                .method("POST")
                .uri(format!("/v1/products/{p}/capabilities"))
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(bytes::Bytes::from(
                    json!({ "capabilityName": format!("c{i}"), "agentId": "a" }).to_string(),
                ))
                .unwrap();
            crate::common::send(&app, req).await
        }));
    }
    let mut orders = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        if r.status == 201 {
            orders.push(r.body["displayOrder"].as_i64().unwrap());
        } else {
            assert_eq!(r.status, 409, "{r:?}");
        }
    }
    let n = orders.len();
    orders.sort();
    orders.dedup();
    assert_eq!(
        orders.len(),
        n,
        "each created capability has its own position"
    );
    let g = t.send(&router::GET_PRODUCT, [&p], None).await;
    assert_eq!(g.body["capabilities"].as_array().unwrap().len(), n);
}
