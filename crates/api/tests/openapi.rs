//! The OpenAPI document generated from the handlers, pinned as a snapshot: a change to a
//! route, parameter or answer shape shows up here for review.

#![allow(clippy::unwrap_used)] // a panic is a failed test

#[test]
fn the_openapi_document_is_3_1_and_lists_every_route() {
    let document = serde_json::to_value(warden_api::openapi()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    insta::assert_json_snapshot!(document);
}
