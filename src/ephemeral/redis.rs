//! The Redis backend of the ephemeral store, for several nodes sharing sessions, codes and
//! replay caches. Expiry is Redis's own (`EXAT`); single use is `GETDEL`, atomic on the server;
//! replay checks are `SET NX`. Every key carries the configured prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{BoxFuture, EphemeralBackend, EphemeralError};
use crate::clock::Timestamp;

/// Redis-backed ephemeral store.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

fn unavailable(e: redis::RedisError) -> EphemeralError {
    EphemeralError(format!("redis: {e}"))
}

impl RedisStore {
    /// Connects to `url`; every operation gives up after `timeout`.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<RedisStore, EphemeralError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(timeout * 2, client.get_connection_manager_with_config(config))
            .await
            .map_err(|_| EphemeralError("redis: connection timed out".into()))?
            .map_err(unavailable)?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Deletes every key under the prefix (tests clean up with this).
    pub async fn clear_prefix(&self) -> Result<u64, EphemeralError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !keys.is_empty() {
                deleted += redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<u64>(&mut conn)
                    .await
                    .map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

impl EphemeralBackend for RedisStore {
    fn put(&self, key: String, value: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move {
            if expires_at <= now {
                return Ok(());
            }
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EXAT")
                .arg(expires_at.seconds())
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)
        })
    }

    fn put_if_absent(
        &self,
        key: String,
        value: String,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<bool, EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move {
            let expires_at = expires_at.max(now + 1);
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("EXAT")
                .arg(expires_at.seconds())
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(set.is_some())
        })
    }

    fn get(&self, key: String, _now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move { redis::cmd("GET").arg(key).query_async(&mut conn).await.map_err(unavailable) })
    }

    fn take(&self, key: String, _now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move { redis::cmd("GETDEL").arg(key).query_async(&mut conn).await.map_err(unavailable) })
    }

    fn incr(&self, key: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<i64, EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move {
            let expires_at = expires_at.max(now + 1);
            let (count,): (i64,) = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg(0)
                .arg("NX")
                .arg("EXAT")
                .arg(expires_at.seconds())
                .ignore()
                .cmd("INCR")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(count)
        })
    }

    fn decr(&self, key: String, _now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move {
            // One script, so the counter cannot expire between the test and the decrement (a
            // DECR on a missing key would create one without expiry).
            redis::cmd("EVAL")
                .arg("local n = tonumber(redis.call('get', KEYS[1])) if n and n > 0 then redis.call('decr', KEYS[1]) end return 0")
                .arg(1)
                .arg(&key)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let mut conn = self.conn.clone();
        Box::pin(async move { redis::cmd("PING").query_async::<()>(&mut conn).await.map_err(unavailable) })
    }

    fn delete(&self, key: String) -> BoxFuture<'_, Result<(), EphemeralError>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        Box::pin(async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut conn).await.map_err(unavailable) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::random_token;

    /// Runs against the machine's Redis when `SERVICEKONTO_TEST_REDIS_URL` is set.
    async fn store() -> Option<RedisStore> {
        let url = std::env::var("SERVICEKONTO_TEST_REDIS_URL").ok()?;
        Some(
            RedisStore::connect(&url, &format!("sk-unit-{}:", random_token(6)), Duration::from_secs(2))
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn take_is_single_use_and_put_if_absent_detects_replay() {
        let Some(s) = store().await else { return };
        let now = crate::clock::now();
        s.put("a".into(), "1".into(), now + 60, now).await.unwrap();
        assert_eq!(s.get("a".into(), now).await.unwrap().as_deref(), Some("1"));
        assert_eq!(s.take("a".into(), now).await.unwrap().as_deref(), Some("1"));
        assert_eq!(s.take("a".into(), now).await.unwrap(), None);
        assert!(s.put_if_absent("j".into(), String::new(), now + 60, now).await.unwrap());
        assert!(!s.put_if_absent("j".into(), String::new(), now + 60, now).await.unwrap());
        assert_eq!(s.incr("n".into(), now + 60, now).await.unwrap(), 1);
        assert_eq!(s.incr("n".into(), now + 600, now).await.unwrap(), 2);
        s.decr("n".into(), now).await.unwrap();
        assert_eq!(s.incr("n".into(), now + 600, now).await.unwrap(), 2, "one given back");
        for _ in 0..3 {
            s.decr("n".into(), now).await.unwrap();
        }
        assert_eq!(s.incr("n".into(), now + 600, now).await.unwrap(), 1, "never below zero");
        s.decr("never".into(), now).await.unwrap();
        assert_eq!(s.get("never".into(), now).await.unwrap(), None, "nothing comes into being");
        assert_eq!(s.clear_prefix().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn concurrent_takes_hand_a_value_to_exactly_one_caller() {
        let Some(s) = store().await else { return };
        let s = std::sync::Arc::new(s);
        let now = crate::clock::now();
        for round in 0..20 {
            let key = format!("code{round}");
            s.put(key.clone(), "v".into(), now + 60, now).await.unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (s, key) = (s.clone(), key.clone());
                    tokio::spawn(async move { s.take(key, now).await.unwrap() })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                winners += usize::from(t.await.unwrap().is_some());
            }
            assert_eq!(winners, 1);
        }
        s.clear_prefix().await.unwrap();
    }
}
