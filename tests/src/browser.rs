//! A headless Chromium driven over the Chrome DevTools Protocol, for the status page's tests.
//! It is Debian's `chromium` (the path in `WARDEN_TEST_CHROMIUM`, which `cargo xtask ci` sets
//! once the package is installed), started with a fresh profile, no background networking
//! and `--remote-debugging-port=0`; the port it picked is read from the profile's
//! `DevToolsActivePort` file. The client is this file: JSON commands over one WebSocket
//! (tokio-tungstenite), on one page target attached in flattened mode. It records the URL of
//! every request the page makes (`Network.requestWillBeSent`), so a test can check that
//! nothing left 127.0.0.1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The environment variable naming the Chromium binary.
pub const CHROMIUM_ENV: &str = "WARDEN_TEST_CHROMIUM";

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A running browser with one page.
pub struct Browser {
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    session: String,
    requests: Arc<Mutex<Vec<String>>>,
    console: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    /// Starts Chromium, or `None` when `WARDEN_TEST_CHROMIUM` is not set (the caller skips).
    pub async fn launch() -> Option<Self> {
        let binary = std::env::var(CHROMIUM_ENV).ok()?;
        let profile = tempfile::tempdir().expect("a profile directory");
        let child = tokio::process::Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMIUM_ENV}={binary} does not start: {e}"));
        let endpoint = devtools_endpoint(profile.path()).await;
        let (socket, _) = tokio_tungstenite::connect_async(&endpoint).await.expect("connect to the DevTools socket");
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let console: Arc<Mutex<Vec<String>>> = Arc::default();
        let (answers, seen, logged) = (Arc::clone(&pending), Arc::clone(&requests), Arc::clone(&console));
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(answer) = answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id)
                    {
                        let _ = answer.send(value);
                    }
                    continue;
                }
                match value["method"].as_str() {
                    Some("Network.requestWillBeSent") => {
                        if let Some(url) = value["params"]["request"]["url"].as_str() {
                            seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(url.to_owned());
                        }
                    }
                    Some("Runtime.exceptionThrown") => {
                        logged
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(value["params"]["exceptionDetails"].to_string());
                    }
                    Some("Runtime.consoleAPICalled") if value["params"]["type"] == "error" => {
                        logged
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(value["params"]["args"].to_string());
                    }
                    _ => {}
                }
            }
        });
        let mut browser = Self {
            child,
            _profile: profile,
            outgoing,
            pending,
            next_id: AtomicU64::new(1),
            session: String::new(),
            requests,
            console,
        };
        let target = browser.command("Target.createTarget", json!({"url": "about:blank"})).await;
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.command("Target.attachToTarget", json!({"targetId": target_id, "flatten": true})).await;
        browser.session = attached["sessionId"].as_str().expect("a session id").to_owned();
        for domain in ["Page.enable", "Network.enable", "Runtime.enable"] {
            browser.command(domain, json!({})).await;
        }
        Some(browser)
    }

    /// Sends a command (to the page once attached) and waits for its result; an error answer
    /// fails the test.
    pub async fn command(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = Value::String(self.session.clone());
        }
        let (answer, answered) = oneshot::channel();
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, answer);
        self.outgoing.send(Message::Text(message.to_string().into())).expect("the DevTools socket is open");
        let value = tokio::time::timeout(Duration::from_secs(30), answered)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within 30 s"))
            .expect("the DevTools socket closed");
        assert!(value.get("error").is_none(), "{method} failed: {}", value["error"]);
        value["result"].clone()
    }

    /// Opens `url` in the page.
    pub async fn navigate(&self, url: &str) {
        let answer = self.command("Page.navigate", json!({"url": url})).await;
        assert!(answer.get("errorText").is_none(), "navigating to {url}: {answer}");
    }

    /// Evaluates `expression` in the page (awaiting a promise) and answers its value.
    pub async fn eval(&self, expression: &str) -> Value {
        let answer = self
            .command("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await;
        assert!(answer.get("exceptionDetails").is_none(), "{expression} threw: {}", answer["exceptionDetails"]);
        answer["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page; after
    /// `timeout` the test fails with `what` and the page's text.
    pub async fn wait_until(&self, condition: &str, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self
                .command("Runtime.evaluate", json!({"expression": format!("!!({condition})"), "returnByValue": true}))
                .await;
            if answer["result"]["value"] == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.eval("document.body ? document.body.innerText : ''").await;
                panic!("{what}: not so within {timeout:?}. The page says:\n{}", text.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the page's size (CSS pixels); `mobile` also emulates a phone's viewport.
    pub async fn resize(&self, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.command("Emulation.setDeviceMetricsOverride", metrics).await;
    }

    /// Saves a PNG of the page (the whole page when `full`) at `path`.
    pub async fn screenshot(&self, path: &Path, full: bool) {
        let shot =
            self.command("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": full})).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// Every URL the page has requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The page's uncaught exceptions and `console.error` calls so far.
    pub fn errors(&self) -> Vec<String> {
        self.console.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The browser's DevTools WebSocket address, from the profile's `DevToolsActivePort` file
/// (the port on its first line, the path on its second).
async fn devtools_endpoint(profile: &Path) -> String {
    let file: PathBuf = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return format!("ws://127.0.0.1:{}{}", port.trim(), path.trim());
            }
        }
        assert!(Instant::now() < deadline, "Chromium wrote no {} within 30 s", file.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
