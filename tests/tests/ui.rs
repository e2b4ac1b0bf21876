//! The status page (`/ui/`) in a real browser: headless Chromium (Debian's package, through
//! `WARDEN_TEST_CHROMIUM`) driven over the DevTools protocol, against a real `warden serve`
//! with the rehearsal platform. It signs in with the key, shows seeded integrations with the
//! right badges, filters, shows an integration's banner, tests, masked config, scripts and
//! history, follows status changes made through the API without a reload, fetches nothing
//! from anywhere but the server, works on a phone-sized screen and by keyboard, and passes
//! axe-core's WCAG 2 A/AA rules (`WARDEN_TEST_AXE`: axe.min.js from npm, which `cargo xtask
//! ci` installs). Screenshots go to `target/tmp/ui-screenshots/` as test artifacts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // a panic is a failed test

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{ADMIN_KEY, Backend, Server, redshift};
use serde_json::{Value, json};
use warden_e2e::browser::Browser;
use warden_e2e::rehearsal::FAULTS_ENV;

const WAIT: Duration = Duration::from_secs(20);

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// The browser and axe-core's script, or `None` (the test skips) when they are not
/// installed; with `CI=true` they must be.
async fn browser_and_axe() -> Option<(Browser, String)> {
    let axe = std::env::var("WARDEN_TEST_AXE").ok().and_then(|path| std::fs::read_to_string(path).ok());
    let browser = match axe {
        Some(_) => Browser::launch().await,
        None => None,
    };
    match (browser, axe) {
        (Some(browser), Some(axe)) => Some((browser, axe)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but WARDEN_TEST_CHROMIUM or WARDEN_TEST_AXE is not set: run the suite with `cargo xtask ci`"
            )
        }
        _ => {
            eprintln!("WARDEN_TEST_CHROMIUM or WARDEN_TEST_AXE is not set: the browser tests are skipped");
            None
        }
    }
}

/// axe-core's WCAG 2 A and AA violations on the page as it is now, one line each.
async fn accessibility_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.eval(&format!("{axe};\n'loaded'")).await;
    let found = browser
        .eval(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
             .then(r => r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
        )
        .await;
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

async fn created(server: &Server, payload: &Value) -> u64 {
    let answer = server.call("POST", "/integrations", Some(payload)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["id"].as_u64().unwrap()
}

fn labelled(mut payload: Value, name: &str) -> Value {
    payload["labels"] = json!({"name": name, "team": "data-platform"});
    payload
}

/// The badge text of row `id` in the list, or "" when the row is not there.
fn row_badge(id: u64) -> String {
    format!("(document.querySelector('#list tr[data-id=\"{id}\"] .badge') || {{}}).textContent || ''")
}

#[tokio::test]
async fn the_status_page_in_a_browser() {
    let Some((browser, axe)) = browser_and_axe().await else { return };
    let faults = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let server = Server::start_binary_with_env_and_args(
        common::REHEARSAL,
        &Backend::Sqlite,
        temp,
        &[(FAULTS_ENV, faults.path().to_str().unwrap())],
        &["--recheck-interval-secs", "1", "--recheck-retries", "0"],
    )
    .await;

    // Seeded: one enabled, one whose automatic setup failed, one that a recurring check
    // will find unreachable.
    let healthy = created(&server, &labelled(redshift("healthy.example.com", false), "orders-warehouse")).await;
    assert_eq!(server.settled(healthy).await["status"], "enabled");
    let broken = created(&server, &labelled(redshift("failsetup.example.com", true), "finance")).await;
    let broken_status = server.settled(broken).await;
    assert_eq!(broken_status["status"], "createError");
    let remedy = broken_status["message"].as_str().unwrap().to_owned();
    let flaky = created(&server, &labelled(redshift("flaky.example.com", false), "marketing")).await;
    assert_eq!(server.settled(flaky).await["status"], "enabled");
    std::fs::write(faults.path().join("flaky.example.com"), "1000").unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while server.call("GET", &format!("/integrations/{flaky}/status"), None).await.body["status"]
        != "recurringValidationError"
    {
        assert!(std::time::Instant::now() < deadline, "the injected fault did not turn {flaky} red");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Sign in: `/` leads to the page, which asks for the key.
    browser.resize(1280, 900, false).await;
    browser.navigate(&format!("{}/", server.base)).await;
    browser.wait_until("!document.getElementById('key-view').hidden", "the key form shows", WAIT).await;
    assert_eq!(browser.eval("location.pathname").await, "/ui/");
    assert!(
        accessibility_violations(&browser, &axe).await.is_empty(),
        "{:?}",
        accessibility_violations(&browser, &axe).await
    );
    // By keyboard alone: the key field has the focus; type the key and press Enter.
    assert_eq!(browser.eval("document.activeElement.id").await, "key-input");
    browser.command("Input.insertText", json!({"text": ADMIN_KEY})).await;
    for kind in ["keyDown", "keyUp"] {
        let key = json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"});
        browser.command("Input.dispatchKeyEvent", key).await;
    }

    // The list: every integration with its badge, and its name.
    for (id, status) in [(healthy, "enabled"), (broken, "createError"), (flaky, "recurringValidationError")] {
        browser
            .wait_until(&format!("{} === '{status}'", row_badge(id)), &format!("row {id} shows {status}"), WAIT)
            .await;
    }
    assert_eq!(
        browser.eval(&format!("document.querySelector('#list tr[data-id=\"{broken}\"] .badge').className")).await,
        "badge error"
    );
    assert_eq!(
        browser.eval(&format!("document.querySelector('#list tr[data-id=\"{healthy}\"] .badge').className")).await,
        "badge ok"
    );
    let text = browser.eval("document.body.innerText").await.as_str().unwrap().to_owned();
    assert!(text.contains("orders-warehouse") && text.contains("3 integrations"), "{text}");
    assert!(browser.eval("sessionStorage.getItem('warden.apiKey')").await == ADMIN_KEY);
    assert!(browser.eval("localStorage.length").await == 0, "the key stays in the tab's session only");
    browser.screenshot(&screenshots().join("list.png"), true).await;
    let violations = accessibility_violations(&browser, &axe).await;
    assert!(violations.is_empty(), "the list page: {violations:?}");

    // Filtering by status.
    browser
        .eval("{ const s = document.getElementById('filter-status'); s.value = 'createError'; s.dispatchEvent(new Event('change', {bubbles: true})); } 'ok'")
        .await;
    browser
        .wait_until("document.querySelectorAll('#list tbody tr').length === 1", "only the failed one is listed", WAIT)
        .await;
    assert_eq!(browser.eval(&row_badge(broken)).await, "createError");
    browser
        .eval("{ const s = document.getElementById('filter-status'); s.value = ''; s.dispatchEvent(new Event('change', {bubbles: true})); } 'ok'")
        .await;
    browser.wait_until("document.querySelectorAll('#list tbody tr').length === 3", "the filter is lifted", WAIT).await;

    // The failed integration's page: the banner with the remedy, masked secrets, scripts, history.
    browser.eval(&format!("document.querySelector('a[href=\"#/integrations/{broken}\"]').click(); 'ok'")).await;
    browser.wait_until("!document.getElementById('banner').hidden", "the banner shows", WAIT).await;
    let banner = browser.eval("document.getElementById('banner').innerText").await.as_str().unwrap().to_owned();
    assert!(banner.contains("createError") && banner.contains(&remedy), "banner: {banner}\nremedy: {remedy}");
    let page = browser.eval("document.body.innerText").await.as_str().unwrap().to_owned();
    assert!(!page.contains("S3CRET"), "a secret on the page: {page}");
    assert!(page.contains("(secret, not shown)") && page.contains("failsetup.example.com"), "{page}");
    browser.wait_until("document.querySelectorAll('#history tbody tr').length >= 2", "the history shows", WAIT).await;
    let history = browser.eval("document.getElementById('history').innerText").await.as_str().unwrap().to_owned();
    assert!(history.contains("admin") && history.contains("create") && history.contains("createError"), "{history}");
    browser.eval("document.querySelector('#script-buttons button').click(); 'ok'").await;
    browser
        .wait_until("document.getElementById('script').textContent.length > 0", "the cleanup script shows", WAIT)
        .await;
    let script = browser.eval("document.getElementById('script').textContent").await.as_str().unwrap().to_owned();
    assert!(script.to_uppercase().contains("DROP"), "{script}");
    browser.screenshot(&screenshots().join("create-error.png"), true).await;
    browser.eval("window.scrollTo(0, 0); 'ok'").await;
    browser.screenshot(&screenshots().join("create-error-top.png"), false).await;
    let violations = accessibility_violations(&browser, &axe).await;
    assert!(violations.is_empty(), "the integration page: {violations:?}");

    // The unreachable one: its tests with the platform's own error and the fault kind.
    browser.navigate(&format!("{}/ui/#/integrations/{flaky}", server.base)).await;
    browser
        .wait_until(
            "document.getElementById('tests').innerText.includes('rehearsal fault')",
            "the failed run's tests show",
            WAIT,
        )
        .await;
    let tests = browser.eval("document.getElementById('tests').innerText").await.as_str().unwrap().to_owned();
    assert!(tests.contains("connection reset by peer (rehearsal fault)") && tests.contains(" ms"), "{tests}");
    // The message says what to do; the platform's own words stand once, in their column.
    assert!(tests.contains("Unable to connect to host."), "{tests}");
    assert_eq!(tests.matches("rehearsal fault").count(), 1, "{tests}");
    let banner = browser.eval("document.getElementById('banner').innerText").await.as_str().unwrap().to_owned();
    assert!(banner.contains("a transient fault"), "{banner}");

    // Live: the fault ends and the page follows the status back to enabled, without a reload.
    browser.eval("window.notReloaded = true; 'ok'").await;
    std::fs::write(faults.path().join("flaky.example.com"), "0").unwrap();
    browser.wait_until("document.getElementById('banner').hidden", "the banner goes once the check passes", WAIT).await;
    browser
        .wait_until(
            "document.querySelector('#facts .badge').textContent === 'enabled'",
            "the badge turns enabled",
            WAIT,
        )
        .await;
    assert_eq!(browser.eval("window.notReloaded === true").await, true);

    // Live on the list: an integration created and one deleted through the API.
    browser.eval("location.hash = '#/'; 'ok'").await;
    browser.wait_until(&format!("{} === 'enabled'", row_badge(healthy)), "back on the list", WAIT).await;
    let added = created(&server, &labelled(redshift("added.example.com", false), "added-live")).await;
    browser.wait_until(&format!("{} === 'enabled'", row_badge(added)), "the new integration appears", WAIT).await;
    let deleted = server.call("DELETE", &format!("/integrations/{healthy}"), None).await;
    assert!(deleted.status == 200 || deleted.status == 202, "{}", deleted.text);
    browser
        .wait_until(&format!("{} === ''", row_badge(healthy)), "the deleted integration leaves the list", WAIT)
        .await;
    assert_eq!(browser.eval("window.notReloaded === true").await, true);
    assert_eq!(browser.eval("document.getElementById('live').textContent").await, "Live");

    // A phone-sized screen: nothing wider than the screen.
    browser.resize(375, 740, true).await;
    browser.navigate(&format!("{}/ui/#/integrations/{broken}", server.base)).await;
    browser.wait_until("!document.getElementById('banner').hidden", "the banner on a narrow screen", WAIT).await;
    let overflow = browser.eval("document.documentElement.scrollWidth - window.innerWidth").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the page is {overflow} px wider than a 375 px screen");
    browser.screenshot(&screenshots().join("narrow.png"), false).await;
    let violations = accessibility_violations(&browser, &axe).await;
    assert!(violations.is_empty(), "the narrow page: {violations:?}");

    // Nothing left 127.0.0.1, and the page raised no error.
    let requests = browser.requests();
    assert!(!requests.is_empty());
    let elsewhere: Vec<&String> =
        requests.iter().filter(|url| !url.starts_with(&format!("{}/", server.base)) && *url != "about:blank").collect();
    assert!(elsewhere.is_empty(), "requests that left the server: {elsewhere:?}");
    assert!(browser.errors().is_empty(), "the page raised errors: {:?}", browser.errors());
    eprintln!("screenshots in {}", screenshots().display());
}

#[tokio::test]
async fn the_page_is_served_with_a_strict_policy_and_holds_no_data() {
    let server = Server::start(&Backend::Sqlite).await;
    let client = common::http();
    for (path, kind) in [("/ui/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")] {
        let answer = client.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let header =
            |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(header("content-type").starts_with(kind), "{path}: {}", header("content-type"));
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        let body = answer.text().await.unwrap();
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} names another origin");
    }
    let index = client.get(format!("{}/ui/", server.base)).send().await.unwrap().text().await.unwrap();
    // The filters list every type the server has and every status, filled in by the server.
    for option in ["<option value=\"Redshift\">", "<option value=\"recurringValidationError\">"] {
        assert!(index.contains(option), "{option} missing");
    }
    assert!(!index.contains("<!--TYPES-->"));
    let root = common::http_no_redirects().get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/ui/");
}
