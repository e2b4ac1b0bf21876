//! Three `warden` processes on one PostgreSQL under mixed load (creates, some of them slow,
//! edits, reads on every process), each killed with SIGKILL and restarted at random for a
//! bounded time (a seeded generator, so a failure replays). Afterwards:
//!
//! - no integration is left transitional;
//! - every job ran at most once, and every job that succeeded ran exactly once: the
//!   rehearsal platform's change logs of the three processes and the audit log agree; no
//!   change ran for an integration the store does not have;
//! - no acknowledged update is lost: an integration that ended `enabled` carries the labels
//!   of the last PUT acknowledged for it, one that ended `editError` those of the PUT before;
//! - a process answers another's acknowledged write within the documented bound
//!   ([`STALE_BOUND`]: notifications arrive within milliseconds; without them a process
//!   reads the database).
//!
//! The rehearsal stands in for the platform (it logs each change with the process id), so
//! this is about Warden's own promises; the platform side is the adapters' tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Backend, Server, fresh_database, redshift};
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};

/// How long the processes are killed and restarted under load.
const CHAOS: Duration = Duration::from_secs(20);
/// The longest a process may answer an older state after another acknowledged a write.
const STALE_BOUND: Duration = Duration::from_secs(3);
/// The job lease the processes run with (a killed process's jobs are recovered after it).
const LEASE_SECS: &str = "3";

/// A small deterministic generator (SplitMix64), so a failing run can be replayed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A request that may find its process dead: `None` when no answer came.
async fn try_call(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{base}{path}")).header("Authorization", ADMIN_KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let text = response.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// What the load learned, for the checks at the end.
#[derive(Default)]
struct Ledger {
    /// Per integration: the labels' `gen` of each acknowledged PUT, in order.
    acknowledged: HashMap<u64, Vec<u64>>,
    /// Integrations a PUT was sent to without an answer (its outcome is unknown).
    uncertain: HashSet<u64>,
    /// Creates acknowledged.
    created: u64,
    /// The longest another process took to show an acknowledged write.
    slowest_visibility: Duration,
    /// Writes whose visibility on another process was checked.
    visibility_checks: u64,
}

fn payload(host: &str, generation: u64) -> Value {
    let mut body = redshift(host, false);
    body["labels"] = json!({"gen": generation.to_string()});
    body
}

#[tokio::test]
async fn three_processes_killed_at_random_under_load_keep_every_promise() {
    let Ok(admin_url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs WARDEN_TEST_POSTGRES_URL");
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let seed: u64 = std::env::var("WARDEN_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_207);
    let backend = Backend::Postgres(fresh_database(&admin_url).await);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = ["--job-lease-secs", LEASE_SECS];
    let mut servers = Vec::new();
    for dir in &dirs {
        servers.push(Arc::new(RwLock::new(Server::start_in(&backend, dir.path(), None, &args).await)));
    }
    let servers = Arc::new(servers);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let hosts: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let names = Arc::new(AtomicU64::new(0));

    // The load: four workers, each doing a create, an edit or a read in turn on a random
    // process.
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..4u64 {
        let (servers, client, ledger, hosts, stop, names) =
            (servers.clone(), client.clone(), ledger.clone(), hosts.clone(), stop.clone(), names.clone());
        workers.spawn(async move {
            let mut dice = Dice(seed ^ (worker + 1).wrapping_mul(0x1234_5678));
            while !stop.load(Ordering::SeqCst) {
                let on = dice.below(3) as usize;
                let base = servers[on].read().await.base.clone();
                let known: Vec<(u64, String)> = hosts.lock().await.iter().map(|(i, h)| (*i, h.clone())).collect();
                match dice.below(10) {
                    0..=2 => {
                        let n = names.fetch_add(1, Ordering::SeqCst);
                        let slow = if n % 3 == 0 { "-slowsetup" } else { "" };
                        let host = format!("chaos{n}{slow}.example.com");
                        if let Some((200, body)) = try_call(&client, &base, "POST", "/integrations", Some(&payload(&host, 0))).await {
                            hosts.lock().await.insert(body["id"].as_u64().unwrap(), host);
                            ledger.lock().await.created += 1;
                        }
                    }
                    3..=6 if !known.is_empty() => {
                        let (id, host) = &known[dice.below(known.len() as u64) as usize];
                        let current = try_call(&client, &base, "GET", &format!("/integrations/{id}"), None).await;
                        if !matches!(&current, Some((200, b)) if b["status"] == "enabled") {
                            continue;
                        }
                        let generation = dice.next() >> 16;
                        let sent = try_call(&client, &base, "PUT", &format!("/integrations/{id}"), Some(&payload(host, generation))).await;
                        match sent {
                            Some((200, answer)) => {
                                let acknowledged = Instant::now();
                                let written_at = answer["updatedAt"].as_str().unwrap_or_default().to_owned();
                                ledger.lock().await.acknowledged.entry(*id).or_default().push(generation);
                                // Another process shows the write (the edit, or what followed it).
                                let other = servers[(on + 1 + dice.below(2) as usize) % 3].read().await.base.clone();
                                loop {
                                    let Some((200, seen)) = try_call(&client, &other, "GET", &format!("/integrations/{id}"), None).await else { break };
                                    // This write or a later one (timestamps in one format compare as text).
                                    let shows = seen["updatedAt"].as_str().is_some_and(|at| at >= written_at.as_str());
                                    let waited = acknowledged.elapsed();
                                    if shows {
                                        let mut ledger = ledger.lock().await;
                                        ledger.visibility_checks += 1;
                                        ledger.slowest_visibility = ledger.slowest_visibility.max(waited);
                                        break;
                                    }
                                    assert!(waited < STALE_BOUND, "integration {id}: {other} still answers the state before the write acknowledged {waited:?} ago: {seen}");
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                            }
                            Some(_) => {}
                            None => {
                                ledger.lock().await.uncertain.insert(*id);
                            }
                        }
                    }
                    _ => {
                        if let Some((id, _)) = known.first() {
                            let _ = try_call(&client, &base, "GET", &format!("/integrations/{id}"), None).await;
                        }
                        let _ = try_call(&client, &base, "GET", "/integrations", None).await;
                    }
                }
            }
        });
    }

    // The chaos: a kill -9 of a random process every 1 to 3 s, restarted after up to 1 s.
    let mut dice = Dice(seed);
    let started = Instant::now();
    let mut kills = 0;
    while started.elapsed() < CHAOS {
        tokio::time::sleep(Duration::from_millis(1000 + dice.below(2000))).await;
        let victim = dice.below(3) as usize;
        let pid = servers[victim].read().await.pid().unwrap();
        let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(killed.success(), "kill -9 {pid}");
        kills += 1;
        tokio::time::sleep(Duration::from_millis(dice.below(1000))).await;
        servers[victim].write().await.restart().await;
    }
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }

    // Settled: within a few leases no integration is transitional.
    let reader = servers[0].read().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let list = reader.call("GET", "/integrations?includeDeleted=true", None).await;
        let items = list.body.as_array().unwrap().clone();
        if items
            .iter()
            .all(|i| !["creating", "editing", "deleting", "migrating"].contains(&i["status"].as_str().unwrap()))
        {
            break items;
        }
        assert!(Instant::now() < deadline, "still transitional 30 s after the last kill: {}", list.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The platform's record: each change line is "<change> <host> <pid>".
    let mut changes: HashMap<(String, String), Vec<String>> = HashMap::new();
    for dir in &dirs {
        let log = std::fs::read_to_string(dir.path().join("rehearsal.log")).unwrap_or_default();
        for line in log.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            changes.entry((parts[0].to_owned(), parts[1].to_owned())).or_default().push(parts[2].to_owned());
        }
    }
    let ledger = ledger.lock().await;
    let stored_hosts: HashSet<String> = all.iter().map(|i| i["config"]["host"].as_str().unwrap().to_owned()).collect();
    for (change, host) in changes.keys() {
        assert!(stored_hosts.contains(host), "a {change} ran for {host}, which the store does not have");
    }
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for integration in &all {
        let id = integration["id"].as_u64().unwrap();
        let status = integration["status"].as_str().unwrap();
        let host = integration["config"]["host"].as_str().unwrap().to_owned();
        *outcomes.entry(status.to_owned()).or_default() += 1;
        let creates = changes.get(&("create".to_owned(), host.clone())).map_or(0, Vec::len);
        let audit = reader.call("GET", &format!("/audit?integrationId={id}&limit=1000"), None).await;
        let actions: Vec<&str> = audit.body["entries"]
            .as_array()
            .or(audit.body.as_array())
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        let create_succeeded = actions.contains(&"Succeeded");
        if status == "createError" {
            assert!(creates <= 1, "integration {id} ({host}): its create ran {creates} times");
            assert!(!create_succeeded, "integration {id}: createError after a create that succeeded: {actions:?}");
        } else {
            assert_eq!(creates, 1, "integration {id} ({host}, {status}): its create ran {creates} times: {actions:?}");
            assert!(create_succeeded, "integration {id} is {status} with no success in its audit: {actions:?}");
        }
        let edits = changes.get(&("edit".to_owned(), host.clone())).map_or(0, Vec::len);
        let acknowledged = ledger.acknowledged.get(&id).cloned().unwrap_or_default();
        if ledger.uncertain.contains(&id) {
            continue; // a PUT whose answer was lost may or may not have been accepted
        }
        assert!(
            edits <= acknowledged.len(),
            "integration {id}: {edits} edits ran for {} acknowledged PUTs",
            acknowledged.len()
        );
        let generation = integration["labels"]["gen"].as_str().unwrap_or_default().to_owned();
        let last = acknowledged.last().map_or_else(|| "0".to_owned(), ToString::to_string);
        let before_last =
            acknowledged.len().checked_sub(2).map_or_else(|| "0".to_owned(), |i| acknowledged[i].to_string());
        match status {
            "enabled" => {
                assert_eq!(generation, last, "integration {id}: an acknowledged update was lost ({acknowledged:?})")
            }
            "editError" => assert_eq!(
                generation, before_last,
                "integration {id}: a failed edit did not restore the config before it ({acknowledged:?})"
            ),
            _ => {}
        }
    }
    let pids: HashSet<&String> = changes.values().flatten().collect();
    eprintln!(
        "chaos (seed {seed}): {kills} kills in {:.0} s, {} processes took jobs, {} creates acknowledged, {} PUTs acknowledged, outcomes {outcomes:?}, slowest cross-process visibility {:?} over {} checks",
        CHAOS.as_secs_f64(),
        pids.len(),
        ledger.created,
        ledger.acknowledged.values().map(Vec::len).sum::<usize>(),
        ledger.slowest_visibility,
        ledger.visibility_checks
    );
    assert!(kills >= 5, "the chaos killed {kills} times");
    assert!(ledger.created >= 10, "the load created {} integrations", ledger.created);
    assert!(outcomes.get("enabled").is_some_and(|n| *n > 0), "{outcomes:?}");
}
