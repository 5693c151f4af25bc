//! Checks HTTP answers against the crate's OpenAPI document
//! (`oauth_connect::OPENAPI_JSON`): the path and method are documented (or
//! the answer is a 405), the status is one the operation lists, and a JSON
//! body matches the documented schema structurally (types, required and
//! unknown properties, enums, arrays, `$ref`, `allOf`).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use serde_json::Value;

/// The document, parsed.
pub struct Spec {
    doc: Value,
}

impl Spec {
    /// The crate's document.
    pub fn load() -> Self {
        let doc: Value =
            serde_json::from_str(oauth_connect::OPENAPI_JSON).expect("OPENAPI_JSON is valid JSON");
        Self { doc }
    }

    /// The document as JSON.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Every path template with its methods and whether the host (not
    /// `handle`) serves it.
    pub fn paths(&self) -> Vec<(String, Vec<String>, bool)> {
        let paths = self.doc["paths"].as_object().unwrap();
        paths
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                    .cloned()
                    .collect();
                let host = item["x-served-by"] == "host";
                (path.clone(), methods, host)
            })
            .collect()
    }

    /// The template matching a concrete path, if documented.
    fn template(&self, path: &str) -> Option<&str> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object()?.keys().find_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            (parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}'))))
            .then_some(template.as_str())
        })
    }

    /// Follows a local `$ref`.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(self.doc.pointer(pointer).unwrap_or_else(|| {
                    panic!("dangling $ref {reference}");
                }))
            }
            None => value,
        }
    }

    /// Checks one answer; panics with what is wrong. Undocumented paths
    /// (the HTML pages of `/oauth/authorize`) are not checked.
    pub fn check(&self, method: &str, path: &str, status: u16, body: Option<&Value>) {
        let Some(template) = self.template(path) else {
            return;
        };
        let item = &self.doc["paths"][template];
        let operation = &item[method.to_ascii_lowercase()];
        let what = format!("{method} {path} ({template}) -> {status}");
        if operation.is_null() {
            assert_eq!(status, 405, "{what}: undocumented method must be a 405");
            if let Some(body) = body {
                let schema = self.doc.pointer("/components/schemas/ApiError").unwrap();
                self.validate(schema, body, &what);
            }
            return;
        }
        let responses = &operation["responses"];
        let Some(response) = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
        else {
            panic!("{what}: status not documented (documented: {responses})");
        };
        let response = self.resolve(response);
        let schema = response.pointer("/content/application~1json/schema");
        match (schema, body) {
            (Some(schema), Some(body)) => self.validate(schema, body, &what),
            (Some(_), None) => panic!("{what}: a JSON body is documented, none came"),
            (None, Some(body)) => panic!("{what}: undocumented JSON body {body}"),
            (None, None) => {}
        }
    }

    /// Structural JSON-schema validation of `value`.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.validate(part, value, at);
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let actual = match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            assert!(
                types.contains(&actual) || (actual == "integer" && types.contains(&"number")),
                "{at}: expected {types:?}, got {value}"
            );
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            assert!(options.contains(value), "{at}: {value} not in {options:?}");
        }
        if let Value::Object(fields) = value {
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                assert!(
                    fields.contains_key(name),
                    "{at}: missing `{name}` in {value}"
                );
            }
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
                assert!(fields.len() as u64 <= max, "{at}: too many properties");
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, field) in fields {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => self.validate(sub, field, &format!("{at}.{name}")),
                    None => assert!(
                        schema.get("additionalProperties") != Some(&Value::Bool(false)),
                        "{at}: unknown property `{name}`"
                    ),
                }
            }
        }
        if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(item_schema, item, &format!("{at}[{i}]"));
            }
        }
    }
}
