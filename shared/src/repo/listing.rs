//! Lists: one page type and one way to fill it, for every list the API answers.
//!
//! A list reads one partition (of the table or an index) in sort-key order from the
//! position a cursor names, keeps the items `pick` accepts, and stops one past the page, so
//! `hasMore` is exact without a second read.

use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::store::{Item, Position, Query, Table};

use super::cursor::{self, Cursor};

/// One page of a list.
#[derive(Debug)]
pub struct Listing<T> {
    pub data: Vec<T>,
    pub limit: usize,
    /// How many items came before this page.
    pub offset: usize,
    pub next_cursor: Option<String>,
}

impl<T> Listing<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listing<U> {
        Listing {
            data: self.data.into_iter().map(f).collect(),
            limit: self.limit,
            offset: self.offset,
            next_cursor: self.next_cursor,
        }
    }
}

impl Listing<Value> {
    /// `{data, pagination}` as the contract shapes every list.
    pub fn to_json(self) -> Value {
        json!({
            "data": self.data,
            "pagination": {
                "limit": self.limit,
                "currentOffset": self.offset,
                "hasMore": self.next_cursor.is_some(),
                "hasPrev": self.offset > 0,
                "nextCursor": self.next_cursor,
            }
        })
    }
}

/// The page a list call asks for: `?limit=` (1 to 100, 20 if not given) and `?cursor=`.
#[derive(Debug, Clone, Copy)]
pub struct Paging<'q> {
    pub limit: usize,
    pub cursor: Option<&'q str>,
}

impl<'q> Paging<'q> {
    pub fn of(query: &'q [(String, String)]) -> ApiResult<Paging<'q>> {
        Ok(Paging {
            limit: crate::validate::limit(query)?,
            cursor: crate::validate::query_param(query, "cursor").filter(|c| !c.is_empty()),
        })
    }
}

/// Where a page starts (the cursor's position, checked to belong to `query`, and offset)
/// and how long it is.
#[derive(Debug)]
pub struct Start {
    after: Option<Position>,
    offset: usize,
    limit: usize,
}

impl Start {
    /// A cursor made for another list (another partition or prefix), or tampered with, is
    /// 400 `INVALID_CURSOR`.
    pub fn of(paging: Paging, query: &Query) -> ApiResult<Start> {
        let limit = paging.limit;
        let Some(c) = paging.cursor else {
            return Ok(Start {
                after: None,
                offset: 0,
                limit,
            });
        };
        let c = cursor::decode(c, &query.pk, query.index.is_some())?;
        let sk = match &c.position.index_key {
            Some((_, sk)) => sk,
            None => &c.position.key.sk,
        };
        if !query.sk_prefix.as_ref().is_none_or(|p| sk.starts_with(p)) {
            return Err(cursor::invalid());
        }
        Ok(Start {
            after: Some(c.position),
            offset: c.offset,
            limit,
        })
    }
}

/// One page of the entries `pick` makes out of the items `query` reads (in batches of
/// `query.limit`), from `start`.
pub async fn paginate<T>(
    table: &dyn Table,
    query: Query,
    start: Start,
    mut pick: impl FnMut(&Item) -> ApiResult<Option<T>>,
) -> ApiResult<Listing<T>> {
    let limit = start.limit;
    let mut found: Vec<(T, Position)> = Vec::new();
    let mut after = start.after;
    'pages: loop {
        let page = table.query(&query.clone().after(after.clone())).await?;
        for it in &page.items {
            let position = Position::of(it, query.index);
            after = Some(position.clone());
            if let Some(entry) = pick(it)? {
                found.push((entry, position));
                if found.len() > limit {
                    break 'pages;
                }
            }
        }
        if !page.more {
            break;
        }
    }
    let has_more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = match found.last() {
        Some((_, position)) if has_more => Some(cursor::encode(&Cursor {
            position: position.clone(),
            offset: start.offset + found.len(),
        })),
        _ => None,
    };
    Ok(Listing {
        data: found.into_iter().map(|(entry, _)| entry).collect(),
        limit,
        offset: start.offset,
        next_cursor,
    })
}
