//! The read cache: every integration as responses show it ([`Shown`]), kept in memory so
//! that `GET /integrations`, `GET /integrations/{id}` and its status are answered without a
//! store round trip, each with the API's rendering of it made once per change.
//!
//! Invariants:
//! - A write through this process marks what it changed before the write returns, so the
//!   next read in this process sees it (read-your-writes).
//! - On PostgreSQL, which several processes share, the cache is used only while a `LISTEN`
//!   connection is up: a trigger (migration 0009) notifies every change with the row's id,
//!   so another process's write is seen once its notification arrives. While the connection
//!   is down every read goes to the database, and when it comes back the cache starts empty.
//! - A changed id is re-read before the next read is answered; an entry is never patched with
//!   data read before the change that invalidated it (a change during a re-read leaves the id
//!   marked, a reset during a load discards what was loaded, and while ids are re-read no read
//!   is answered from the snapshot that predates them).
//! - The embedded SQLite store belongs to one process (the server holds the data directory's
//!   lock), so its own writes are every write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{IntegrationSummary, ListQuery};
use warden_model::Status;

/// Above this many changed ids a refresh reads every row again instead of one by one.
const REREAD_LIMIT: usize = 32;

/// An integration as shown, shared by the cache and the answers being written from it.
#[derive(Debug)]
pub struct Shown {
    /// What responses show of it.
    pub summary: IntegrationSummary,
    rendered: OnceLock<Box<[u8]>>,
}

impl Shown {
    pub(crate) fn new(summary: IntegrationSummary) -> Arc<Self> {
        Arc::new(Self { summary, rendered: OnceLock::new() })
    }

    /// The caller's rendering of this version of the integration (its JSON), made by
    /// `render` the first time it is asked for and kept as long as this version is.
    pub fn rendered(&self, render: impl FnOnce(&IntegrationSummary) -> Vec<u8>) -> &[u8] {
        self.rendered.get_or_init(|| render(&self.summary).into_boxed_slice())
    }
}

/// Every integration by id (deleted ones too), as of the last refresh.
pub(crate) type Snapshot = BTreeMap<u64, Arc<Shown>>;

#[derive(Default)]
struct State {
    /// Whether reads may be answered from here (on PostgreSQL: while notifications arrive).
    enabled: bool,
    /// Every row, once loaded.
    snapshot: Option<Arc<Snapshot>>,
    /// Ids changed since the snapshot read them.
    changed: BTreeSet<u64>,
    /// Ids a refresh under way is re-reading: the snapshot is not current for them until
    /// it is patched (a reader must not take the old rows while they are read again).
    rereading: BTreeSet<u64>,
    /// Bumped by every reset, so that a load begun before one is not installed after it.
    generation: u64,
}

/// The integrations of `snapshot` that `query` asks for, oldest first.
pub(crate) fn select(snapshot: &Snapshot, query: &ListQuery) -> Vec<Arc<Shown>> {
    use std::ops::Bound::{Excluded, Unbounded};
    let from = query.after.map_or(Unbounded, |after| Excluded(after.get()));
    snapshot
        .range((from, Unbounded))
        .map(|(_, shown)| shown)
        .filter(|shown| query.integration_type.is_none_or(|t| shown.summary.integration_type == t))
        .filter(|shown| match query.status {
            Some(status) => shown.summary.status == status,
            None => query.include_deleted || shown.summary.status != Status::Deleted,
        })
        .take(query.limit.map_or(usize::MAX, |limit| limit as usize))
        .cloned()
        .collect()
}

/// What a refresh has to read.
pub(crate) enum Refresh {
    /// The snapshot is current.
    Current(Arc<Snapshot>),
    /// Every row.
    Everything { generation: u64 },
    /// These rows, to patch into the snapshot.
    Rows { generation: u64, ids: Vec<u64> },
}

/// The cache's state, and a lock that lets one refresh run at a time (the others wait for
/// it and then find the snapshot current).
pub(crate) struct ReadCache {
    state: Mutex<State>,
    refreshing: tokio::sync::Mutex<()>,
}

impl ReadCache {
    pub(crate) fn new(enabled: bool) -> Self {
        Self { state: Mutex::new(State { enabled, ..State::default() }), refreshing: tokio::sync::Mutex::new(()) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is replaced whole or not at all, so a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The snapshot if it is current, without waiting; `None` when a refresh is due or the
    /// cache is off.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        let state = self.state();
        match &state.snapshot {
            Some(snapshot) if state.enabled && state.changed.is_empty() && state.rereading.is_empty() => {
                Some(Arc::clone(snapshot))
            }
            _ => None,
        }
    }

    /// Whether reads may be answered from the cache at all.
    pub(crate) fn enabled(&self) -> bool {
        self.state().enabled
    }

    /// Waits for any refresh under way; the guard lets the caller run the next one.
    pub(crate) async fn refresh_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refreshing.lock().await
    }

    /// What the next refresh must read (taking the changed ids), or `None` when the cache is
    /// off. Call it holding the refresh turn.
    pub(crate) fn plan(&self) -> Option<Refresh> {
        let mut state = self.state();
        if !state.enabled {
            return None;
        }
        let generation = state.generation;
        Some(match &state.snapshot {
            Some(snapshot) if state.changed.is_empty() => Refresh::Current(Arc::clone(snapshot)),
            Some(_) if state.changed.len() <= REREAD_LIMIT => {
                let ids = std::mem::take(&mut state.changed);
                state.rereading.clone_from(&ids);
                Refresh::Rows { generation, ids: ids.into_iter().collect() }
            }
            _ => {
                // Until the load is installed nothing is current (a failed load leaves no
                // snapshot to answer from).
                state.snapshot = None;
                state.changed.clear();
                Refresh::Everything { generation }
            }
        })
    }

    /// Installs every row read by a refresh planned at `generation`; answers the snapshot, or
    /// `None` if a reset came in between (the rows may predate it).
    pub(crate) fn install(&self, generation: u64, rows: Vec<Arc<Shown>>) -> Option<Arc<Snapshot>> {
        let mut state = self.state();
        if state.generation != generation || !state.enabled {
            return None;
        }
        let snapshot: Arc<Snapshot> = Arc::new(rows.into_iter().map(|s| (s.summary.id.get(), s)).collect());
        state.snapshot = Some(Arc::clone(&snapshot));
        Some(snapshot)
    }

    /// Patches the rows re-read for `ids` (an id with no row is removed).
    pub(crate) fn patch(&self, generation: u64, ids: &[u64], rows: Vec<Arc<Shown>>) -> Option<Arc<Snapshot>> {
        let mut state = self.state();
        state.rereading.clear();
        if state.generation != generation || !state.enabled {
            return None;
        }
        let snapshot = state.snapshot.as_mut()?;
        let map = Arc::make_mut(snapshot);
        for id in ids {
            map.remove(id);
        }
        for row in rows {
            map.insert(row.summary.id.get(), row);
        }
        Some(Arc::clone(snapshot))
    }

    /// A refresh failed: its ids are changed still.
    pub(crate) fn refresh_failed(&self, ids: &[u64]) {
        let mut state = self.state();
        state.rereading.clear();
        state.changed.extend(ids);
    }

    /// Marks one integration as changed (also while no snapshot is loaded: a load under way
    /// may have read it before the change).
    pub(crate) fn changed(&self, id: u64) {
        self.state().changed.insert(id);
    }

    /// Forgets everything (what was missed cannot be known).
    pub(crate) fn reset(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.snapshot = None;
        state.changed.clear();
        state.rereading.clear();
    }

    /// Turns the cache on or off; either way it starts empty.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.reset();
        self.state().enabled = enabled;
    }
}

/// The PostgreSQL notification channel the trigger of migration 0009 notifies.
pub(crate) const CHANNEL: &str = "warden_integration_changed";
/// The channel migration 0010's trigger notifies with each new audit entry's id.
pub(crate) const AUDIT_CHANNEL: &str = "warden_audit_appended";
/// The channel migration 0011's trigger notifies when an API key is revoked or changed.
pub(crate) const KEYS_CHANNEL: &str = "warden_api_keys_changed";

/// Keeps a `LISTEN` connection to PostgreSQL, marks every notified integration id as changed
/// passes every notified audit entry id on to `audit`, and moves `keys` when an API key
/// changed (also each time the connection is made again: a revocation may have been missed);
/// the cache is on only while the connection is up. Runs until the store is dropped (the
/// task is aborted then).
pub(crate) async fn follow_notifications(
    pool: sqlx::PgPool,
    cache: Arc<ReadCache>,
    audit: tokio::sync::watch::Sender<i64>,
    keys: tokio::sync::watch::Sender<u64>,
) {
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen_all([CHANNEL, AUDIT_CHANNEL, KEYS_CHANNEL]).await {
                Ok(()) => {
                    // Listening from here on: every later commit is notified, so a cache that
                    // starts empty now misses nothing.
                    cache.set_enabled(true);
                    keys.send_modify(|generation| *generation += 1);
                    backoff = std::time::Duration::from_millis(100);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notification)) if notification.channel() == KEYS_CHANNEL => {
                                keys.send_modify(|generation| *generation += 1);
                            }
                            Ok(Some(notification)) if notification.channel() == AUDIT_CHANNEL => {
                                if let Ok(id) = notification.payload().parse::<i64>() {
                                    crate::audit::note_audit_id(&audit, id);
                                }
                            }
                            Ok(Some(notification)) => match notification.payload().parse::<u64>() {
                                Ok(id) => cache.changed(id),
                                Err(_) => cache.reset(),
                            },
                            // The connection was lost: notifications may have been missed.
                            Ok(None) => break,
                            Err(error) => {
                                tracing::warn!(%error, "store notifications stopped; reading from the database");
                                break;
                            }
                        }
                    }
                    cache.set_enabled(false);
                }
                Err(error) => tracing::warn!(%error, "store notifications: LISTEN failed; reading from the database"),
            },
            Err(error) => {
                tracing::warn!(%error, "store notifications: cannot connect; reading from the database");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warden_model::{IntegrationId, IntegrationType, Status};

    use super::{ReadCache, Refresh, Shown};
    use crate::IntegrationSummary;

    fn shown(id: u64, status: Status) -> Arc<Shown> {
        Shown::new(IntegrationSummary {
            id: IntegrationId::new(id).unwrap(),
            integration_type: IntegrationType::Trino,
            host: String::new(),
            auto_bootstrap: false,
            status,
            status_message: None,
            config: None,
            labels: None,
            created_at: 0,
            updated_at: 0,
            validation_results: None,
        })
    }

    fn generation(refresh: Option<Refresh>) -> (u64, Vec<u64>, bool) {
        match refresh {
            Some(Refresh::Everything { generation }) => (generation, Vec::new(), true),
            Some(Refresh::Rows { generation, ids }) => (generation, ids, false),
            Some(Refresh::Current(_)) => panic!("expected a refresh"),
            None => panic!("the cache is off"),
        }
    }

    #[test]
    fn a_change_is_reread_before_the_next_read() {
        let cache = ReadCache::new(true);
        assert!(cache.current().is_none());
        let (g, _, everything) = generation(cache.plan());
        assert!(everything);
        cache.install(g, vec![shown(1, Status::Creating), shown(2, Status::Enabled)]).unwrap();
        assert_eq!(cache.current().unwrap().len(), 2);
        cache.changed(1);
        assert!(cache.current().is_none(), "a changed id makes the snapshot stale");
        let (g, ids, everything) = generation(cache.plan());
        assert!(!everything);
        assert_eq!(ids, [1]);
        let snapshot = cache.patch(g, &ids, vec![shown(1, Status::Enabled)]).unwrap();
        assert_eq!(snapshot[&1].summary.status, Status::Enabled);
        assert!(cache.current().is_some());
    }

    /// The race a fresh-clone run caught: a write marks its id, a refresh (for another
    /// reader) takes it to re-read, and until that re-read is patched in, a reader must not be
    /// answered from the snapshot that predates the write.
    #[test]
    fn a_read_during_a_reread_waits_for_it() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.install(g, vec![shown(1, Status::Enabled)]).unwrap();
        cache.changed(2); // a new integration, committed
        let (g, ids, _) = generation(cache.plan());
        assert_eq!(ids, [2]);
        assert!(cache.current().is_none(), "id 2 is being re-read: the old snapshot is not current");
        cache.patch(g, &ids, vec![shown(2, Status::Creating)]).unwrap();
        assert!(cache.current().is_some_and(|s| s.contains_key(&2)));
        cache.changed(1);
        let (_, ids, _) = generation(cache.plan());
        cache.refresh_failed(&ids);
        assert!(cache.current().is_none(), "a failed re-read leaves the id changed");
    }

    #[test]
    fn a_change_during_a_reread_stays_marked() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.install(g, vec![shown(1, Status::Creating)]).unwrap();
        cache.changed(1);
        let (g, ids, _) = generation(cache.plan());
        cache.changed(1); // a second change lands while the first is re-read
        cache.patch(g, &ids, vec![shown(1, Status::Enabled)]).unwrap();
        assert!(cache.current().is_none(), "the second change must be read too");
    }

    #[test]
    fn a_change_during_the_first_load_is_reread() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.changed(1); // lands after the load read row 1
        cache.install(g, vec![shown(1, Status::Creating)]).unwrap();
        assert!(cache.current().is_none());
        let (_, ids, _) = generation(cache.plan());
        assert_eq!(ids, [1]);
    }

    #[test]
    fn a_reset_during_a_load_discards_it() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.reset();
        assert!(cache.install(g, vec![shown(1, Status::Creating)]).is_none());
        assert!(cache.current().is_none());
    }

    #[test]
    fn a_cache_that_is_off_answers_nothing() {
        let cache = ReadCache::new(false);
        assert!(cache.plan().is_none());
        cache.set_enabled(true);
        let (g, _, _) = generation(cache.plan());
        cache.set_enabled(false);
        assert!(cache.install(g, Vec::new()).is_none());
        assert!(cache.current().is_none());
    }

    #[test]
    fn a_deleted_row_leaves_the_snapshot() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.install(g, vec![shown(1, Status::Enabled), shown(2, Status::Enabled)]).unwrap();
        cache.changed(2);
        let (g, ids, _) = generation(cache.plan());
        let snapshot = cache.patch(g, &ids, Vec::new()).unwrap();
        assert_eq!(snapshot.keys().copied().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn many_changes_reload_everything() {
        let cache = ReadCache::new(true);
        let (g, _, _) = generation(cache.plan());
        cache.install(g, Vec::new()).unwrap();
        for id in 1..=40 {
            cache.changed(id);
        }
        let (_, _, everything) = generation(cache.plan());
        assert!(everything);
    }
}
