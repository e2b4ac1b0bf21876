//! The OpenAPI document generated from the handlers, pinned as a snapshot: a change to a
//! route, parameter or answer shape shows up here for review.

#![allow(clippy::unwrap_used)] // a panic is a failed test

#[test]
fn the_openapi_document_is_3_1_and_lists_every_route() {
    let document = serde_json::to_value(warden_api::openapi()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    insta::assert_json_snapshot!(document);
}

/// Issue 11, item 11: the document says what the server does: path ids start at 1, request
/// bodies are typed, and every answer of POST, PUT and DELETE is described.
#[test]
fn the_document_agrees_with_the_server() {
    let document = serde_json::to_value(warden_api::openapi()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut ids = 0;
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "path" && path.starts_with("/schemas/") {
                    assert!(parameter["schema"]["pattern"].is_string(), "{method} {path}: {parameter}");
                } else if parameter["in"] == "path" {
                    assert_eq!(parameter["schema"]["minimum"], 1, "{method} {path}: {parameter}");
                    ids += 1;
                }
            }
            if let Some(body) = operation.get("requestBody") {
                let schema = &body["content"]["application/json"]["schema"];
                assert!(
                    schema.get("$ref").is_some() || schema.get("oneOf").is_some(),
                    "{method} {path}: untyped body {body}"
                );
            }
            if path.starts_with("/integrations") && method != "get" || path == "/integrations" {
                assert!(
                    operation["responses"].get("5XX").is_some() || path.contains("openapi"),
                    "{method} {path}: no 5XX"
                );
            }
        }
    }
    assert!(ids >= 8, "{ids} path ids");
    let payload = &document["components"]["schemas"]["IntegrationPayload"];
    assert!(payload["properties"]["type"].is_object(), "{payload}");
}
