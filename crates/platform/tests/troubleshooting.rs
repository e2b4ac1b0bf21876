//! The user guide's troubleshooting pages cover the catalogue: every validation test of every
//! platform has its entry in `docs/book/src/troubleshooting/validation-tests.md` (a `###`
//! heading with the test's exact name, under the `##` heading of its platform) with the
//! message a user sees, and the page names no test the catalogue does not have; every error
//! status has its entry in `statuses.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;

use warden_model::{IntegrationType, Status};
use warden_platform::catalogue;

fn page(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/book/src/troubleshooting").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `##` title of each platform's part of the page.
fn section_title(integration_type: IntegrationType) -> &'static str {
    match integration_type {
        IntegrationType::Snowflake => "Snowflake",
        IntegrationType::Redshift => "Amazon Redshift",
        IntegrationType::AzureSynapseAnalytics => "Azure Synapse Analytics",
        IntegrationType::Databricks => "Databricks Unity Catalog",
        IntegrationType::GoogleBigQuery => "Google BigQuery",
        IntegrationType::NativeS3 => "Amazon S3 Access Grants",
        IntegrationType::Trino => "Starburst / Trino",
    }
}

/// (platform section, test heading, the entry's text) for every `###` of the page.
fn entries(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.trim().to_owned();
        } else if let Some(title) = line.strip_prefix("### ") {
            out.push((section.clone(), title.trim().to_owned(), String::new()));
        } else if let Some(last) = out.last_mut().filter(|(s, _, _)| *s == section) {
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

#[test]
fn every_validation_test_has_its_troubleshooting_entry_and_no_other() {
    let text = page("validation-tests.md");
    let found = entries(&text);
    let documented: BTreeSet<(String, String)> = found.iter().map(|(s, t, _)| (s.clone(), t.clone())).collect();
    let mut expected = BTreeSet::new();
    for integration_type in IntegrationType::ALL {
        let section = section_title(integration_type);
        assert!(text.contains(&format!("\n## {section}\n")), "the page has a part for {section}");
        for test in catalogue(integration_type) {
            expected.insert((section.to_owned(), test.name.to_owned()));
            let entry = found.iter().find(|(s, t, _)| s == section && t == test.name);
            let Some((_, _, body)) = entry else { continue };
            assert!(
                body.contains(&format!("- **Message:** `{}`", test.message)),
                "{section} / {}: the entry shows the message a user sees",
                test.name
            );
            for part in ["- **Checks:** ", "- **Usual causes:** ", "- **Fix:** "] {
                assert!(body.contains(part), "{section} / {}: the entry has {part}", test.name);
            }
        }
    }
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "tests without a troubleshooting entry: {missing:#?}");
    assert!(unknown.is_empty(), "entries for tests the catalogue does not have: {unknown:#?}");
    assert_eq!(found.len(), expected.len(), "no test has two entries");
}

#[test]
fn every_error_status_has_its_troubleshooting_entry() {
    let text = page("statuses.md");
    let headings: BTreeSet<&str> = text.lines().filter_map(|l| l.strip_prefix("## ")).map(str::trim).collect();
    let errors: BTreeSet<&str> = Status::ALL.iter().map(|s| s.as_str()).filter(|s| s.ends_with("Error")).collect();
    assert_eq!(errors.len(), 5, "createError, editError, deleteError, migrateError, recurringValidationError");
    assert_eq!(headings, errors, "one entry per error status, and no other");
}
