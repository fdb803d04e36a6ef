//! The OpenAPI document as a test oracle: every answer an HTTP test sees must have a status the
//! document lists for its operation and a body its schema accepts.

use serde_json::{json, Value};
use std::sync::OnceLock;

pub struct ApiDocument {
    pub doc: Value,
}

impl ApiDocument {
    /// The document the router serves, built once per test binary.
    pub fn get() -> &'static ApiDocument {
        static DOC: OnceLock<ApiDocument> = OnceLock::new();
        DOC.get_or_init(|| ApiDocument {
            doc: serde_json::to_value(auth::http::openapi_document()).unwrap(),
        })
    }

    /// Every (METHOD, path template) the document lists.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                all.push((method.to_uppercase(), path.clone()));
            }
        }
        all.sort();
        all
    }

    /// The path template a concrete path matches (`{name}` stands for one non-empty segment).
    pub fn template_of(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object().unwrap().keys().find_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(p, s)| {
                    (p.starts_with('{') && p.ends_with('}') && !s.is_empty()) || p == s
                });
            matches.then(|| t.clone())
        })
    }

    /// Checks one answer: its status is one the operation lists, and its body is valid against
    /// that response's schema (no body where the response has no content). An answer for a path
    /// or method the document does not list must be the router's `not_found` or
    /// `method_not_allowed` error.
    pub fn check_answer(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let operation = self
            .template_of(path)
            .and_then(|t| self.doc["paths"][&t].get(method.to_lowercase()).cloned());
        let Some(operation) = operation else {
            let error = body["error"].as_str();
            return match (status, error) {
                (404, Some("not_found")) | (405, Some("method_not_allowed")) => {
                    self.validate(&json!({ "$ref": "#/components/schemas/Error" }), body)
                }
                _ => Err(format!(
                    "{method} {path}: not in the document, yet answered {status} {body}"
                )),
            };
        };
        let Some(response) = operation["responses"].get(status.to_string()) else {
            return Err(format!(
                "{method} {path}: answered {status}, which the document does not list ({body})"
            ));
        };
        match response["content"]["application/json"].get("schema") {
            Some(schema) => self
                .validate(schema, body)
                .map_err(|e| format!("{method} {path} → {status}: {e}")),
            None if body.is_null() => Ok(()),
            None => Err(format!(
                "{method} {path} → {status}: the document says no body, got {body}"
            )),
        }
    }

    fn validate(&self, schema: &Value, body: &Value) -> Result<(), String> {
        let rooted = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::validator_for(&rooted).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{body} is not valid: {}", errors.join("; ")))
        }
    }
}
