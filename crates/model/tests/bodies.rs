//! Decoding hostile and unusual bodies: YAML written by hand decodes to the same payload as
//! its JSON twin; alias bombs, deep nesting, oversized, multi-document, duplicate-key and
//! non-UTF-8 bodies are refused with a clear error instead of being expanded or crashing.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

mod common;

use common::{describe, load};
use warden_model::{BodyFormat, MAX_BODY_BYTES, ModelError, check_payload, decode};

fn malformed(body: &[u8], format: BodyFormat) -> String {
    match decode(body, format) {
        Err(ModelError::MalformedBody(m)) => m,
        other => panic!("expected a malformed body, got {other:?}"),
    }
}

#[test]
fn hand_written_yaml_matches_its_json_twin() {
    let yaml = r#"
# Snowflake, automatic setup, key pair
type: Snowflake
autoBootstrap: true
config:
  host: acme-xy12345.snowflakecomputing.com
  warehouse: COMPUTE_WH
  database: WARDEN_DB
  authenticationType: keyPair
  username: ADMIN
  privateKey: "-----BEGIN PRIVATE KEY-----\\nMIIEvS3CRET-pem-body\\n-----END PRIVATE KEY-----"
  privateKeyPassword: S3CRET-pem-pass
  role: ACCOUNTADMIN
  port: 443
  audit: {enabled: true}
  impersonation:
    enabled: true
    role: WARDEN_IMP
  userRolePattern:
    exclude: [SYSADMIN, ETL_USER]
  workspaces: {enabled: true, warehouses: [WS_WH]}
  connectArgs: application=warden
  privilegedConnectArgs: application=warden-admin
  lineage:
    enabled: true
    lineageConfig:
      tableFilter: '^ANALYTICS\..*'
      tagFilterRegex: ^pii_
      ingestBatchSize: 500
"#;
    let from_yaml = check_payload(yaml.as_bytes(), BodyFormat::Yaml, None).unwrap();
    let from_sniffed = check_payload(yaml.as_bytes(), BodyFormat::Unknown, None).unwrap();
    let json = serde_json::to_vec(&load("snowflake").valid["full"]).unwrap();
    let from_json = check_payload(&json, BodyFormat::Json, None).unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_sniffed, from_json);
}

#[test]
fn small_anchors_are_fine() {
    let yaml = "type: Trino\nbase: &f false\nautoBootstrap: *f\n";
    let out = describe(check_payload(yaml.as_bytes(), BodyFormat::Yaml, None));
    assert_eq!(out["errors"][0]["message"], "base is not a known field", "{out}");
}

#[test]
fn alias_bomb_is_refused_not_expanded() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        yaml.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let message = malformed(yaml.as_bytes(), BodyFormat::Yaml);
    assert!(message.starts_with("the body is not valid YAML"), "{message}");
}

#[test]
fn deep_nesting_is_refused_in_both_formats() {
    let json = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    assert!(malformed(json.as_bytes(), BodyFormat::Json).contains("deeper than 32 levels"));
    let very_deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(malformed(very_deep.as_bytes(), BodyFormat::Json).contains("recursion limit"));
    let yaml = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    assert!(malformed(yaml.as_bytes(), BodyFormat::Yaml).contains("YAML"));
    let mut block = String::new();
    for depth in 0..40 {
        block.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    block.push_str(&format!("{}leaf: 1\n", "  ".repeat(40)));
    assert!(malformed(block.as_bytes(), BodyFormat::Yaml).contains("YAML"));
}

#[test]
fn oversized_body_is_refused_before_parsing() {
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    assert!(matches!(decode(&body, BodyFormat::Json), Err(ModelError::BodyTooLarge { .. })));
}

#[test]
fn odd_bodies_get_clear_errors() {
    assert!(malformed(b"a: 1\n---\nb: 2\n", BodyFormat::Yaml).contains("YAML"));
    assert!(malformed(b"type: Trino\ntype: Trino\n", BodyFormat::Yaml).contains("YAML"));
    assert!(malformed(b"\xff\xfe", BodyFormat::Json).contains("UTF-8"));
    assert!(malformed(b"{\"type\": ", BodyFormat::Json).contains("not valid JSON"));
    let both = malformed(b"{: [", BodyFormat::Unknown);
    assert!(both.contains("neither JSON") && both.contains("nor YAML"), "{both}");
    let out = describe(check_payload(b"[1, 2]", BodyFormat::Json, None));
    assert_eq!(out["errors"][0]["path"], "(body)");
    for empty in [&b""[..], b"  \n", b"# only a comment\n", b"null"] {
        for format in [BodyFormat::Yaml, BodyFormat::Unknown] {
            let out = describe(check_payload(empty, format, None));
            assert_eq!(out["errors"][0]["path"], "(body)", "{out}");
            assert_eq!(
                out["errors"][0]["message"],
                "the body is empty: send an object with type, autoBootstrap and config"
            );
        }
    }
}

/// Issue 11, item 10: JSON and YAML decode by one rule.
#[test]
fn json_and_yaml_follow_one_rule_for_duplicates_merges_tags_and_bom() {
    let json_twice = br#"{"type": "Trino", "type": "Trino"}"#;
    assert!(malformed(json_twice, BodyFormat::Json).contains("given twice"), "duplicate keys in JSON");
    assert!(malformed(br#"{"a": {"b": 1, "b": 2}}"#, BodyFormat::Unknown).contains("twice"), "nested duplicates");
    let yaml_twice = b"type: Trino\ntype: Trino\n";
    assert!(decode(yaml_twice, BodyFormat::Yaml).is_err(), "duplicate keys in YAML");

    let merge = b"base: &b {host: a.example.com}\nconfig:\n  <<: *b\n  port: 5439\n";
    assert!(decode(merge, BodyFormat::Yaml).is_err(), "a YAML merge key is refused, not applied");
    let binary = b"type: Trino\nnote: !!binary aGVsbG8=\n";
    assert!(malformed(binary, BodyFormat::Yaml).contains("tags"), "a !!binary tag is refused");
    let custom = b"type: !custom Trino\n";
    assert!(malformed(custom, BodyFormat::Yaml).contains("tags"), "a custom tag is refused");

    let with_bom = |body: &[u8]| [b"\xef\xbb\xbf".as_slice(), body].concat();
    let expected = serde_json::json!({"type": "Trino"});
    assert_eq!(decode(&with_bom(br#"{"type": "Trino"}"#), BodyFormat::Json).unwrap(), expected);
    assert_eq!(decode(&with_bom(b"type: Trino\n"), BodyFormat::Yaml).unwrap(), expected);
    assert_eq!(decode(&with_bom(br#"{"type": "Trino"}"#), BodyFormat::Unknown).unwrap(), expected);
}

/// Issue 11, item 8: a body of thousands of unknown keys lists 100 problems and counts the rest.
#[test]
fn unknown_keys_are_capped_at_one_hundred_problems() {
    let mut config = serde_json::Map::new();
    for i in 0..20_000 {
        config.insert(format!("unknownField{i}"), serde_json::json!(i));
    }
    let payload = serde_json::json!({"type": "Redshift", "autoBootstrap": false, "config": config});
    let problems = warden_model::IntegrationSpec::from_value(&payload, None).unwrap_err();
    assert_eq!(problems.len(), 101, "100 listed and one line counting the rest");
    let last = &problems.last().unwrap().message;
    assert!(last.contains("more problems") && last.contains("only the first 100"), "{last}");
}
