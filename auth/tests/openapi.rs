//! The OpenAPI document: it is served, it lists exactly the routes the router serves (and the
//! protocol's HTTP API names), its links lead somewhere real, and the checker the HTTP tests
//! validate every answer with refuses what the document does not describe.

mod common;

use common::http::{TestServer, ADMIN};
use common::openapi::ApiDocument;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// (METHOD, path template) of every route docs/PROTOCOL.md §9 lists.
fn protocol_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .unwrap();
    let section = text.split("## 9. The HTTP API").nth(1).unwrap();
    let block = section.split("```").nth(1).unwrap();
    block
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let method = words.next()?;
            let path = words.next()?;
            METHODS.contains(&method).then(|| {
                // `…/disable|enable|unlock` is one route with a path parameter.
                let path = match path.rsplit_once('/') {
                    Some((head, last)) if last.contains('|') => format!("{head}/{{action}}"),
                    _ => path.to_owned(),
                };
                (method.to_owned(), path)
            })
        })
        .collect()
}

/// Every path literal in the HTTP module's source: a route added anywhere there shows up here.
fn route_literals_in_source() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for literal in source.split('"').skip(1).step_by(2) {
            if literal.starts_with('/') && literal.len() > 1 && !literal.contains(' ') {
                found.insert(literal.to_owned());
            }
        }
    }
    found
}

fn concrete(template: &str) -> String {
    template
        .replace("{username}", "alice")
        .replace("{action}", "unlock")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_served_at_openapi_json() {
    let s = TestServer::start().await;
    let served = s.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, ApiDocument::get().doc);
    assert_eq!(served.body["openapi"], "3.1.0");
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_protocol() {
    let documented: BTreeSet<_> = ApiDocument::get().operations().into_iter().collect();
    assert_eq!(documented, protocol_routes());
}

#[test]
fn every_route_in_the_http_source_is_documented() {
    let doc = ApiDocument::get();
    let literals = route_literals_in_source();
    assert!(literals.contains("/v1/session/refresh"), "{literals:?}");
    for literal in literals {
        if literal.starts_with("/__test/") {
            continue; // the test hooks: another router, on a loopback-only listener
        }
        assert!(
            doc.template_of(&literal).is_some() || doc.doc["paths"].get(&literal).is_some(),
            "{literal} appears in auth/src/http but not in the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn every_documented_route_reaches_a_handler_and_no_other_method_does() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let doc = ApiDocument::get();
    let operations = doc.operations();
    for (method, template) in &operations {
        let path = concrete(template);
        let answer = s
            .send(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &path,
                Some(ADMIN),
                (method != "GET").then(|| json!({})),
            )
            .await;
        let error = answer.body["error"].as_str();
        assert!(
            !matches!(error, Some("not_found" | "method_not_allowed")),
            "{method} {path} fell through to the router's fallback: {}",
            answer.body
        );
    }
    let paths: BTreeSet<&String> = operations.iter().map(|(_, p)| p).collect();
    for template in paths {
        for method in METHODS {
            if operations.contains(&(method.to_owned(), template.clone())) {
                continue;
            }
            let path = concrete(template);
            let answer = s
                .send(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &path,
                    None,
                    None,
                )
                .await;
            assert_eq!(
                (answer.status, answer.body["error"].as_str()),
                (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
                "{method} {path} is served but not documented"
            );
        }
    }
}

#[test]
fn links_name_real_operations_and_fields_the_answer_has() {
    let doc = &ApiDocument::get().doc;
    let operation_ids: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let schema_of = |reference: &str| {
        let name = reference.trim_start_matches("#/components/schemas/");
        doc["components"]["schemas"][name].clone()
    };
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(response_links) = response["links"].as_object() else {
                    continue;
                };
                let answer = schema_of(
                    response["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .unwrap(),
                );
                for (name, link) in response_links {
                    links += 1;
                    let target = link["operationId"].as_str().unwrap();
                    assert!(operation_ids.contains(target), "{name} → {target}");
                    for expression in expressions(link) {
                        if let Some(field) = expression
                            .split("$response.body#/")
                            .nth(1)
                            .map(|f| f.trim_end_matches('}'))
                        {
                            assert!(
                                answer["properties"].get(field).is_some(),
                                "link {name} of {status} reads {field}, which the answer lacks"
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(links >= 30, "only {links} links");
}

fn expressions(link: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for part in [&link["parameters"], &link["requestBody"]] {
        if let Some(map) = part.as_object() {
            out.extend(map.values().filter_map(|v| v.as_str().map(str::to_owned)));
        }
    }
    out
}

#[test]
fn the_checker_refuses_answers_the_document_does_not_describe() {
    let doc = ApiDocument::get();
    let tokens = json!({
        "access_token": "a", "refresh_token": "r", "token_type": "Bearer",
        "expires_in": 900, "aal": "aal1", "session_id": "s",
    });
    let refresh =
        |status, body: &Value| doc.check_answer("POST", "/v1/session/refresh", status, body);
    assert_eq!(refresh(200, &tokens), Ok(()));
    assert_eq!(
        refresh(400, &json!({"error": "invalid_grant", "reason": "reuse"})),
        Ok(())
    );
    // A status the operation does not list.
    assert!(refresh(401, &json!({"error": "unauthorized"})).is_err());
    // A field of the wrong type, a missing field, a word the document does not know.
    let mut wrong = tokens.clone();
    wrong["expires_in"] = json!("soon");
    assert!(refresh(200, &wrong).is_err());
    let mut missing = tokens.clone();
    missing.as_object_mut().unwrap().remove("aal");
    assert!(refresh(200, &missing).is_err());
    assert!(refresh(400, &json!({"error": "grant_invalid"})).is_err());
    assert!(refresh(400, &json!({"error": "invalid_grant", "reason": "stale"})).is_err());
    // A body where the document says there is none.
    assert!(doc
        .check_answer("POST", "/v1/session/logout", 204, &json!({}))
        .is_err());
    assert_eq!(
        doc.check_answer("POST", "/v1/session/logout", 204, &Value::Null),
        Ok(())
    );
    // Undocumented paths may only get the router's own errors.
    assert_eq!(
        doc.check_answer("GET", "/nowhere", 404, &json!({"error": "not_found"})),
        Ok(())
    );
    assert!(doc
        .check_answer("GET", "/nowhere", 200, &json!({}))
        .is_err());
}
