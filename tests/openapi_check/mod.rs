//! Checks HTTP answers against the crate's OpenAPI document
//! (`oauth_connect::http::OPENAPI_JSON`): the path and method are documented (or
//! the answer is a 405), the status is one the operation lists, and a JSON
//! body matches the documented schema: types, required and unknown
//! properties, enums, arrays, `$ref`, `allOf`, `anyOf`, `oneOf`, string
//! lengths and patterns, item counts, numeric minimums and maximums, and
//! the `date-time`, `email` and `uri` formats. A keyword it does not know
//! fails the check ([`KNOWN_KEYWORDS`]), so the document cannot grow one
//! that is silently ignored.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use serde_json::Value;

/// Every keyword a schema of the document may use: those checked, and
/// the annotations (`description`, `examples`, `default`) that assert
/// nothing.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "allOf",
    "anyOf",
    "oneOf",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "maxProperties",
    "minProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "format",
    "description",
    "examples",
    "default",
];

/// The document, parsed.
pub struct Spec {
    doc: Value,
}

impl Spec {
    /// The crate's document.
    pub fn load() -> Self {
        let doc: Value = serde_json::from_str(oauth_connect::http::OPENAPI_JSON)
            .expect("OPENAPI_JSON is valid JSON");
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

    /// Whether `value` matches `schema`.
    pub fn matches(&self, schema: &Value, value: &Value) -> bool {
        self.check_value(schema, value, "").is_ok()
    }

    /// Every schema keyword the document uses that [`KNOWN_KEYWORDS`]
    /// lacks (with where).
    pub fn unknown_keywords(&self) -> Vec<String> {
        fn walk(value: &Value, at: &str, schema: bool, out: &mut Vec<String>) {
            match value {
                Value::Object(fields) => {
                    for (key, sub) in fields {
                        let here = format!("{at}/{key}");
                        if schema && !KNOWN_KEYWORDS.contains(&key.as_str()) {
                            out.push(here.clone());
                        }
                        let sub_is_schema = match key.as_str() {
                            "schema" | "items" | "additionalProperties" => true,
                            "properties" => false,
                            _ if !schema => false,
                            "allOf" | "anyOf" | "oneOf" => true,
                            _ => false,
                        };
                        if key == "properties" && schema {
                            if let Value::Object(props) = sub {
                                for (name, prop) in props {
                                    walk(prop, &format!("{here}/{name}"), true, out);
                                }
                            }
                        } else if schema
                            && matches!(key.as_str(), "enum" | "examples" | "required" | "default")
                        {
                            // Values, not schemas.
                        } else {
                            walk(sub, &here, sub_is_schema, out);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{at}/{i}"), schema, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(schemas) = self
            .doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                walk(
                    schema,
                    &format!("/components/schemas/{name}"),
                    true,
                    &mut out,
                );
            }
        }
        walk(&self.doc["paths"], "/paths", false, &mut out);
        out
    }

    /// JSON-schema validation of `value`; panics with what is wrong.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) {
        if let Err(problem) = self.check_value(schema, value, at) {
            panic!("{problem}");
        }
    }

    /// JSON-schema validation of `value`: what is wrong, if anything.
    pub fn check_value(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        macro_rules! ensure {
            ($cond:expr, $($msg:tt)+) => {{
                let holds: bool = $cond;
                if !holds {
                    return Err(format!($($msg)+));
                }
            }};
        }
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.check_value(part, value, at)?;
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            ensure!(
                any.iter().any(|option| self.matches(option, value)),
                "{at}: {value} matches none of anyOf {any:?}"
            );
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|option| self.matches(option, value))
                .count();
            ensure!(
                matching == 1,
                "{at}: {value} must match exactly one of oneOf {one:?}"
            );
        }
        if let Value::String(text) = value {
            let chars = text.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                ensure!(chars >= min, "{at}: {value} is shorter than {min}");
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                ensure!(chars <= max, "{at}: {value} is longer than {max}");
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                let re = regex_lite::Regex::new(pattern)
                    .map_err(|e| format!("{at}: bad pattern {pattern}: {e}"))?;
                ensure!(re.is_match(text), "{at}: {value} does not match {pattern}");
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => ensure!(
                    time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339
                    )
                    .is_ok(),
                    "{at}: {value} is not an RFC 3339 date-time"
                ),
                Some("email") => ensure!(
                    text.split_once('@')
                        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
                    "{at}: {value} is not an e-mail address"
                ),
                Some("uri") => ensure!(
                    url::Url::parse(text).is_ok(),
                    "{at}: {value} is not an absolute URI"
                ),
                Some(other) => return Err(format!("{at}: unknown format {other}")),
                None => {}
            }
        }
        if let Value::Number(n) = value {
            let n = n.as_f64().unwrap();
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                ensure!(n >= min, "{at}: {value} is below {min}");
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                ensure!(n <= max, "{at}: {value} is above {max}");
            }
        }
        if let Value::Array(items) = value {
            let len = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                ensure!(len >= min, "{at}: fewer than {min} items");
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                ensure!(len <= max, "{at}: more than {max} items");
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
            ensure!(
                types.contains(&actual) || (actual == "integer" && types.contains(&"number")),
                "{at}: expected {types:?}, got {value}"
            );
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            ensure!(options.contains(value), "{at}: {value} not in {options:?}");
        }
        if let Value::Object(fields) = value {
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                ensure!(
                    fields.contains_key(name),
                    "{at}: missing `{name}` in {value}"
                );
            }
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
                ensure!(fields.len() as u64 <= max, "{at}: too many properties");
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
                ensure!(fields.len() as u64 >= min, "{at}: too few properties");
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, field) in fields {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => self.check_value(sub, field, &format!("{at}.{name}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{at}: unknown property `{name}`"));
                        }
                        Some(extra @ Value::Object(_)) => {
                            self.check_value(extra, field, &format!("{at}.{name}"))?;
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check_value(item_schema, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }
}
