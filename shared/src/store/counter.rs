//! Counts storage requests and sequential round trips, so tests can hold each endpoint to its
//! budget. Requests issued at the same time (joined futures) share one round trip: a round
//! starts when a request starts while none is in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
struct Counts {
    requests: AtomicU64,
    in_flight: AtomicU64,
    rounds: AtomicU64,
    items_read: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Counts>);

/// A request in flight; dropping it marks the request done.
#[derive(Debug)]
pub struct InFlight(RequestCounter);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0 .0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RequestCounter {
    /// One request is sent.
    pub fn request(&self) {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// A storage operation starts (on the first poll of its future, so operations joined
    /// together have all started before any ends); keep the guard until it has ended.
    pub fn begin(&self) -> InFlight {
        if self.0.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.0.rounds.fetch_add(1, Ordering::SeqCst);
        }
        InFlight(self.clone())
    }

    /// Requests made so far.
    pub fn get(&self) -> u64 {
        self.0.requests.load(Ordering::SeqCst)
    }

    /// Reads answered `n` items (so a test can tell one record read from a partition read).
    pub fn read_items(&self, n: usize) {
        self.0.items_read.fetch_add(n as u64, Ordering::SeqCst);
    }

    /// Items answered by reads so far.
    pub fn items_read(&self) -> u64 {
        self.0.items_read.load(Ordering::SeqCst)
    }

    /// Sequential round trips made so far.
    pub fn rounds(&self) -> u64 {
        self.0.rounds.load(Ordering::SeqCst)
    }
}
