//! The in-process ephemeral store: a mutex-guarded map with expiry, swept as it grows.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BoxFuture, EphemeralBackend, EphemeralError};
use crate::clock::Timestamp;

/// In-process backend for a single node.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    items: HashMap<String, (String, Timestamp)>,
    /// Size at which the next write sweeps expired items, so memory stays bounded by live items.
    sweep_at: usize,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> Result<T, EphemeralError> {
        let mut guard = self.inner.lock().map_err(|_| EphemeralError("memory store poisoned".into()))?;
        Ok(f(&mut guard))
    }
}

impl Inner {
    fn sweep(&mut self, now: Timestamp) {
        if self.items.len() >= self.sweep_at {
            self.items.retain(|_, (_, exp)| *exp > now);
            self.sweep_at = (self.items.len() * 2).max(1024);
        }
    }

    fn live(&self, key: &str, now: Timestamp) -> bool {
        self.items.get(key).is_some_and(|(_, exp)| *exp > now)
    }
}

impl EphemeralBackend for MemoryStore {
    fn put(&self, key: String, value: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let r = self.with(|i| {
            i.sweep(now);
            i.items.insert(key, (value, expires_at));
        });
        Box::pin(async move { r })
    }

    fn put_if_absent(
        &self,
        key: String,
        value: String,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<bool, EphemeralError>> {
        let r = self.with(|i| {
            i.sweep(now);
            if i.live(&key, now) {
                false
            } else {
                i.items.insert(key, (value, expires_at));
                true
            }
        });
        Box::pin(async move { r })
    }

    fn get(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>> {
        let r = self.with(|i| i.items.get(&key).filter(|(_, exp)| *exp > now).map(|(v, _)| v.clone()));
        Box::pin(async move { r })
    }

    fn take(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>> {
        let r = self.with(|i| i.items.remove(&key).filter(|(_, exp)| *exp > now).map(|(v, _)| v));
        Box::pin(async move { r })
    }

    fn incr(&self, key: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<i64, EphemeralError>> {
        let r = self.with(|i| {
            i.sweep(now);
            let current = if i.live(&key, now) {
                i.items.get(&key).and_then(|(v, _)| v.parse::<i64>().ok()).unwrap_or(0)
            } else {
                0
            };
            let expiry = if i.live(&key, now) {
                i.items.get(&key).map_or(expires_at, |(_, e)| *e)
            } else {
                expires_at
            };
            i.items.insert(key, ((current + 1).to_string(), expiry));
            current + 1
        });
        Box::pin(async move { r })
    }

    fn decr(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let r = self.with(|i| {
            if i.live(&key, now)
                && let Some((v, _)) = i.items.get_mut(&key)
                && let Ok(n) = v.parse::<i64>()
                && n > 0
            {
                *v = (n - 1).to_string();
            }
        });
        Box::pin(async move { r })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let r = self.with(|_| ());
        Box::pin(async move { r })
    }

    fn delete(&self, key: String) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let r = self.with(|i| {
            i.items.remove(&key);
        });
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_single_use_and_respects_expiry() {
        let s = MemoryStore::default();
        s.put("a".into(), "1".into(), Timestamp(100), Timestamp(0)).await.unwrap();
        assert_eq!(s.take("a".into(), Timestamp(50)).await.unwrap().as_deref(), Some("1"));
        assert_eq!(s.take("a".into(), Timestamp(50)).await.unwrap(), None);
        s.put("b".into(), "2".into(), Timestamp(100), Timestamp(0)).await.unwrap();
        assert_eq!(s.get("b".into(), Timestamp(100)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn counters_count_within_their_window_and_restart_after_it() {
        let s = MemoryStore::default();
        assert_eq!(s.incr("c".into(), Timestamp(10), Timestamp(0)).await.unwrap(), 1);
        assert_eq!(
            s.incr("c".into(), Timestamp(99), Timestamp(5)).await.unwrap(),
            2,
            "the window is set when the counter starts"
        );
        assert_eq!(s.incr("c".into(), Timestamp(20), Timestamp(10)).await.unwrap(), 1, "a new window");
    }

    #[tokio::test]
    async fn a_counter_gives_back_one_but_never_goes_below_zero_nor_comes_into_being() {
        let s = MemoryStore::default();
        s.incr("c".into(), Timestamp(10), Timestamp(0)).await.unwrap();
        s.incr("c".into(), Timestamp(10), Timestamp(0)).await.unwrap();
        s.decr("c".into(), Timestamp(1)).await.unwrap();
        assert_eq!(s.incr("c".into(), Timestamp(10), Timestamp(2)).await.unwrap(), 2);
        for _ in 0..3 {
            s.decr("c".into(), Timestamp(3)).await.unwrap();
        }
        assert_eq!(s.incr("c".into(), Timestamp(10), Timestamp(4)).await.unwrap(), 1);
        s.decr("gone".into(), Timestamp(0)).await.unwrap();
        assert_eq!(s.get("gone".into(), Timestamp(0)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_if_absent_detects_replay_until_expiry() {
        let s = MemoryStore::default();
        assert!(
            s.put_if_absent("j".into(), String::new(), Timestamp(10), Timestamp(0))
                .await
                .unwrap()
        );
        assert!(
            !s.put_if_absent("j".into(), String::new(), Timestamp(10), Timestamp(5))
                .await
                .unwrap()
        );
        assert!(
            s.put_if_absent("j".into(), String::new(), Timestamp(20), Timestamp(10))
                .await
                .unwrap()
        );
    }
}
