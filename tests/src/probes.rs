//! What a platform holds of Warden's, read on its server or emulator directly (never through
//! Warden or the fault proxy), for the tests that check "all or nothing" after a fault or a
//! crash: a Databricks catalog (and the warehouse a test makes) on minilake, a BigQuery dataset on bqemulator, Warden's login
//! and schemas in the TDS stand-in's catalogue.

use crate::tds_catalogue::Catalogue;

/// Whether minilake at `base` (`https://127.0.0.1:<port>`, trusted through `WARDEN_CA_FILE`)
/// has the Unity Catalog catalog `catalog`.
///
/// # Panics
/// When minilake does not answer: a failed test.
pub async fn minilake_catalog_exists(base: &str, catalog: &str) -> bool {
    let found = warden_http::https_client(None)
        .expect("an HTTPS client")
        .get(format!("{}/api/2.1/unity-catalog/catalogs/{catalog}", base.trim_end_matches('/')))
        .send()
        .await
        .expect("minilake answers");
    found.status().is_success()
}

/// A SQL warehouse made on minilake at `base` directly (never through Warden or a proxy),
/// named `name`: its id, for an `httpPath`.
///
/// # Panics
/// When minilake does not answer: a failed test.
pub async fn minilake_warehouse(base: &str, name: &str) -> String {
    let created: serde_json::Value = warden_http::https_client(None)
        .expect("an HTTPS client")
        .post(format!("{}/api/2.0/sql/warehouses", base.trim_end_matches('/')))
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .expect("minilake answers")
        .json()
        .await
        .expect("minilake answers JSON");
    created["id"].as_str().expect("a warehouse id").to_owned()
}

/// The privileges minilake's user (every token's) holds on the securable `kind` `name`
/// (`table`, `system.access.audit`).
///
/// # Panics
/// When minilake does not answer: a failed test.
pub async fn minilake_privileges(base: &str, kind: &str, name: &str) -> Vec<String> {
    let answer: serde_json::Value = warden_http::https_client(None)
        .expect("an HTTPS client")
        .get(format!(
            "{}/api/2.1/unity-catalog/permissions/{kind}/{name}?principal=minilake-user",
            base.trim_end_matches('/')
        ))
        .send()
        .await
        .expect("minilake answers")
        .json()
        .await
        .expect("minilake answers JSON");
    answer["privilege_assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["privileges"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// Whether bqemulator at `host` (`127.0.0.1:<port>`) has `dataset` in `project`, asked as the
/// project's administrator (a token of the form the token-endpoint stand-in issues).
///
/// # Panics
/// When bqemulator does not answer: a failed test.
pub async fn bigquery_dataset_exists(host: &str, project: &str, dataset: &str) -> bool {
    use base64::Engine as _;
    let admin =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("admin@{project}.iam.gserviceaccount.com"));
    let found = reqwest::Client::new()
        .get(format!("http://{host}/bigquery/v2/projects/{project}/datasets/{dataset}"))
        .bearer_auth(format!("ya29.warden-test.{admin}.admin"))
        .send()
        .await
        .expect("bqemulator answers");
    found.status().is_success()
}

/// How many of an automatic Synapse setup's objects for `database` the catalogue holds: the
/// login `<database>_system` and the four schemas (5 when the setup is complete).
pub fn synapse_objects(catalogue: &Catalogue, database: &str) -> usize {
    let state = catalogue.snapshot();
    let login = usize::from(state.logins.contains_key(&format!("{database}_system")));
    login + state.databases.get(database).map_or(0, |d| d.schemas.len())
}
