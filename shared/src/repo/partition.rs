//! A product's partition read whole, with one Query: the product and everything under it.
//! GET product, GET surface and every write that must see several of a product's records
//! start here.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::{Capability, Product, Schedule, Surface, SurfaceItem, SurfaceKey};
use crate::store::{Key, Query, Table};

use super::decode;
use super::layout::{self as k, entity};

pub struct Partition {
    pub product: Product,
    pub version: u64,
    pub capabilities: Vec<(Capability, u64)>,
    pub surfaces: Vec<(Surface, u64)>,
    pub items: Vec<(SurfaceItem, u64)>,
    pub keys: Vec<(SurfaceKey, u64)>,
    pub schedules: Vec<Schedule>,
    /// Admitted gateway calls per key id: (count, time of the last).
    pub usage: HashMap<String, (i64, String)>,
    /// The version of each counter item, by sort key (a quota count's version stands for
    /// the records it counts, as read).
    pub counter_versions: HashMap<String, u64>,
    /// The key of every item in the partition.
    pub all: Vec<Key>,
    /// The name claims in the partition (products as code's surfaces): key and the id of the
    /// record each names.
    pub claims: Vec<(Key, String)>,
}

impl Partition {
    /// The product `id` of `owner` and everything under it; 404 if not theirs. The owner is
    /// checked first, on the product record alone (API.md "Limits": a stranger costs one
    /// read and reads nothing else of the product).
    pub async fn load(table: &dyn Table, owner: &str, id: &str) -> ApiResult<Partition> {
        super::owned_product(table, owner, id).await?;
        Self::load_checked(table, owner, id).await
    }

    /// As `load`, for a caller that has already checked the owner on the product record.
    pub async fn load_checked(table: &dyn Table, owner: &str, id: &str) -> ApiResult<Partition> {
        Self::read(table, id)
            .await?
            .filter(|p| p.product.owner == owner)
            .ok_or_else(|| ApiError::not_found("Product"))
    }

    /// The product `id` and everything under it, whoever owns it (one Query).
    pub async fn read(table: &dyn Table, id: &str) -> ApiResult<Option<Partition>> {
        let page = table.query(&Query::partition(k::product_pk(id))).await?;
        let mut product = None;
        let mut p = Partition {
            product: Product::default(),
            version: 0,
            capabilities: Vec::new(),
            surfaces: Vec::new(),
            items: Vec::new(),
            keys: Vec::new(),
            schedules: Vec::new(),
            usage: HashMap::new(),
            counter_versions: HashMap::new(),
            all: Vec::with_capacity(page.items.len()),
            claims: Vec::new(),
        };
        for it in &page.items {
            p.all.push(it.key.clone());
            match it.entity.as_str() {
                entity::PRODUCT => product = Some((decode::<Product>(it)?, it.version)),
                entity::CAPABILITY => p.capabilities.push((decode(it)?, it.version)),
                entity::SURFACE => p.surfaces.push((decode(it)?, it.version)),
                entity::SURFACE_ITEM => p.items.push((decode(it)?, it.version)),
                entity::SURFACE_KEY => p.keys.push((decode(it)?, it.version)),
                entity::SCHEDULE => p.schedules.push(decode(it)?),
                entity::NAME_CLAIM => {
                    if let Some(id) = it.data.get("id").and_then(|v| v.as_str()) {
                        p.claims.push((it.key.clone(), id.to_string()));
                    }
                }
                entity::COUNTER => {
                    p.counter_versions.insert(it.key.sk.clone(), it.version);
                    if let Some(key_id) = k::key_of_usage_sk(&it.key.sk) {
                        let used = (it.count.unwrap_or(0), it.updated_at.clone());
                        p.usage.insert(key_id.to_string(), used);
                    }
                }
                _ => {}
            }
        }
        let Some((product, version)) = product else {
            return Ok(None);
        };
        p.product = product;
        p.version = version;
        p.capabilities
            .sort_by(|a, b| (a.0.display_order, &a.0.id).cmp(&(b.0.display_order, &b.0.id)));
        p.items
            .sort_by(|a, b| (a.0.display_order, &a.0.id).cmp(&(b.0.display_order, &b.0.id)));
        Ok(Some(p))
    }

    pub fn capability(&self, id: &str) -> Option<&Capability> {
        self.capabilities
            .iter()
            .map(|(c, _)| c)
            .find(|c| c.id == id)
    }

    /// The surface `id` (and its version), else 404.
    pub fn surface(&self, id: &str) -> ApiResult<(&Surface, u64)> {
        self.surfaces
            .iter()
            .find(|(s, _)| s.id == id)
            .map(|(s, v)| (s, *v))
            .ok_or_else(|| ApiError::not_found("Surface"))
    }

    pub fn items_of<'a>(
        &'a self,
        surface_id: &'a str,
    ) -> impl Iterator<Item = &'a SurfaceItem> + 'a {
        self.items
            .iter()
            .map(|(i, _)| i)
            .filter(move |i| i.surface_id == surface_id)
    }

    pub fn keys_of<'a>(
        &'a self,
        surface_id: &'a str,
    ) -> impl Iterator<Item = &'a (SurfaceKey, u64)> + 'a {
        self.keys
            .iter()
            .filter(move |(k, _)| k.surface_id == surface_id)
    }

    /// The ids of the schedules of `surface_id`, or of every surface when `None`.
    pub fn schedule_ids(&self, surface_id: Option<&str>) -> Vec<String> {
        self.schedules
            .iter()
            .filter(|s| surface_id.is_none_or(|id| s.surface_id == id))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Every key of the partition under `prefix` (a surface's subtree, say).
    pub fn keys_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Key> + 'a {
        self.all.iter().filter(move |k| k.sk.starts_with(prefix))
    }

    /// The surface as GET surface shows it: items with their capabilities, keys, and the
    /// targets a key may be scoped to.
    pub fn surface_json(&self, surface: &Surface, base: &str) -> Value {
        let mut v = surface.to_json(base);
        let items: Vec<&SurfaceItem> = self.items_of(&surface.id).collect();
        v["items"] = items
            .iter()
            .map(|i| i.to_json_with(self.capability(&i.capability_id)))
            .collect();
        v["keys"] = self
            .keys_of(&surface.id)
            .map(|(key, _)| key.to_json(self.usage.get(&key.id)))
            .collect();
        v["scopeTargets"] = items
            .iter()
            .map(|i| {
                let cap = self.capability(&i.capability_id);
                let name = i
                    .exposed_name
                    .clone()
                    .or_else(|| cap.map(|c| c.capability_name.clone()))
                    .unwrap_or_default();
                json!({ "id": i.id, "name": name, "capabilityId": i.capability_id, "surfaceItemId": i.id })
            })
            .collect();
        v
    }

    /// The product as GET product shows it.
    pub fn product_json(&self, base: &str) -> Value {
        let mut v = self.product.to_json();
        v["capabilities"] = self.capabilities.iter().map(|(c, _)| c.to_json()).collect();
        v["surfaces"] = self
            .surfaces
            .iter()
            .map(|(s, _)| {
                let mut sv = s.to_json(base);
                sv["items"] = self
                    .items_of(&s.id)
                    .map(|i| i.to_json_with(self.capability(&i.capability_id)))
                    .collect();
                sv
            })
            .collect();
        v
    }
}
