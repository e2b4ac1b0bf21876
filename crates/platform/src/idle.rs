//! What an adapter keeps between validation runs: a session a run closed (a connection, a
//! token) is kept for a short idle time, so that the next run on the same target and login
//! takes it instead of opening another (back-to-back dry runs, recurring validation). Any
//! adapter can use it; each value is keyed by a digest of its target and credentials, closed
//! when its idle time passes, and all are closed before a change runs, so that Warden holds
//! no session on a platform while it changes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use warden_model::Secret;

/// A value an [`IdleCache`] can close.
#[async_trait]
pub trait Reusable: Send + 'static {
    /// Ends it politely (a connection says goodbye to its server).
    async fn close(self);
}

/// Sessions kept between runs, by key, for at most the idle time after their last use.
pub struct IdleCache<T: Reusable> {
    idle: Duration,
    next: AtomicU64,
    kept: Mutex<HashMap<String, (u64, T)>>,
}

impl<T: Reusable> std::fmt::Debug for IdleCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("IdleCache").field("idle", &self.idle).field("kept", &kept).finish()
    }
}

impl<T: Reusable> IdleCache<T> {
    /// A cache that keeps each value `idle` after it is put back.
    pub fn new(idle: Duration) -> Arc<Self> {
        Arc::new(Self { idle, next: AtomicU64::new(0), kept: Mutex::new(HashMap::new()) })
    }

    /// The key of a target: its non-secret parts and a SHA-256 digest of its secrets, so the
    /// key never holds a credential and two logins never share a session.
    pub fn key(parts: &[&str], secrets: &[&Secret<String>]) -> String {
        let mut digest = Sha256::new();
        for secret in secrets {
            digest.update(secret.expose().as_bytes());
            digest.update([0]);
        }
        let digest = warden_model::hex::encode(&digest.finalize());
        format!("{}#{digest}", parts.join("\u{1f}"))
    }

    /// The value kept for `key`, taken out of the cache (one run uses it at a time).
    pub fn take(&self, key: &str) -> Option<T> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).remove(key).map(|(_, value)| value)
    }

    /// Keeps `value` for `key` and closes it once it has been idle for the idle time (a
    /// value already kept for the key is closed now).
    pub fn put(self: &Arc<Self>, key: String, value: T) {
        let generation = self.next.fetch_add(1, Ordering::Relaxed);
        let replaced =
            self.kept.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), (generation, value));
        if let Some((_, old)) = replaced {
            tokio::spawn(old.close());
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(cache.idle).await;
            let expired = {
                let mut kept = cache.kept.lock().unwrap_or_else(PoisonError::into_inner);
                match kept.get(&key) {
                    Some((kept_generation, _)) if *kept_generation == generation => kept.remove(&key),
                    _ => None,
                }
            };
            if let Some((_, value)) = expired {
                value.close().await;
            }
        });
    }

    /// Closes every kept value (before a change runs on the platform).
    pub async fn close_all(&self) {
        let all: Vec<T> =
            self.kept.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, (_, value))| value).collect();
        for value in all {
            value.close().await;
        }
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use warden_model::Secret;

    use super::{IdleCache, Reusable};

    struct Counted(Arc<AtomicUsize>);

    #[async_trait]
    impl Reusable for Counted {
        async fn close(self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn kept_values_are_taken_once_closed_when_idle_and_closed_before_a_change() {
        let closed = Arc::new(AtomicUsize::new(0));
        let cache = IdleCache::new(Duration::from_millis(50));
        cache.put("a".into(), Counted(Arc::clone(&closed)));
        assert!(cache.take("a").is_some());
        assert!(cache.take("a").is_none(), "a run takes it; the next opens its own");
        cache.put("a".into(), Counted(Arc::clone(&closed)));
        cache.put("a".into(), Counted(Arc::clone(&closed)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(closed.load(Ordering::SeqCst), 1, "the one replaced is closed at once");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(closed.load(Ordering::SeqCst), 2, "the one kept is closed once idle");
        assert!(cache.is_empty());
        cache.put("b".into(), Counted(Arc::clone(&closed)));
        cache.close_all().await;
        assert_eq!(closed.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn keys_hold_no_secret_and_tell_logins_apart() {
        let (one, two) = (Secret::new("pw-one".to_owned()), Secret::new("pw-two".to_owned()));
        let key = IdleCache::<Counted>::key(&["host", "5439", "dev", "warden"], &[&one]);
        assert!(!key.contains("pw-one"));
        assert_ne!(key, IdleCache::<Counted>::key(&["host", "5439", "dev", "warden"], &[&two]));
    }
}
