//! A session's `filters` and the providers they leave.

use serde::Deserialize;

use crate::error::{ConnectProblem, FieldError, Problem};
use crate::hooks::link::Provider;
use crate::storage::ConnectContext;

/// The session's filters, as the page narrows the catalogue with them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    #[serde(default)]
    providers: Option<Vec<String>>,
    #[serde(default)]
    manufacturers: Option<Vec<String>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    device_types: Option<Vec<String>>,
}

/// Checks a session's `filters` against the catalogue: every named provider
/// and category must exist, and at least one provider must remain.
pub(crate) fn check_filters(
    catalogue: &[Provider],
    filters: Option<&serde_json::Value>,
) -> Result<(), FieldError> {
    let Some(value) = filters else {
        return Ok(());
    };
    // The keys the flow reads must be what they say (anything else in the
    // object is the host's, passed on untouched); a mistyped filter is a
    // 400, never silently ignored.
    for key in ["providers", "manufacturers", "categories", "deviceTypes"] {
        let Some(given) = value.get(key) else {
            continue;
        };
        let strings = given
            .as_array()
            .is_some_and(|items| items.iter().all(serde_json::Value::is_string));
        if !strings {
            return Err(FieldError::new(
                filter_field(key),
                Problem::NotAListOfStrings,
            ));
        }
    }
    for (key, alias) in [
        ("providers", "manufacturers"),
        ("categories", "deviceTypes"),
    ] {
        if value.get(key).is_some() && value.get(alias).is_some() {
            return Err(FieldError::new(
                filter_field(alias),
                Problem::Connect(ConnectProblem::DuplicateAlias),
            ));
        }
    }
    let parsed: Filters = serde_json::from_value(value.clone()).unwrap_or_default();
    let (ids, id_field) = match (&parsed.providers, &parsed.manufacturers) {
        (Some(ids), _) => (Some(ids), "filters.providers"),
        (None, Some(ids)) => (Some(ids), "filters.manufacturers"),
        (None, None) => (None, "filters.providers"),
    };
    let (categories, category_field) = match (&parsed.categories, &parsed.device_types) {
        (Some(c), _) => (Some(c), "filters.categories"),
        (None, Some(c)) => (Some(c), "filters.deviceTypes"),
        (None, None) => (None, "filters.categories"),
    };
    if let Some(ids) = ids {
        for (index, id) in ids.iter().enumerate() {
            if !catalogue.iter().any(|p| &p.id == id) {
                return Err(FieldError::at(
                    id_field,
                    index,
                    Problem::Connect(ConnectProblem::UnknownProvider),
                ));
            }
        }
    }
    if let Some(categories) = categories {
        for (index, category) in categories.iter().enumerate() {
            if !catalogue.iter().any(|p| p.categories.contains(category)) {
                return Err(FieldError::at(
                    category_field,
                    index,
                    Problem::Connect(ConnectProblem::UnknownCategory),
                ));
            }
        }
    }
    if (ids.is_some() || categories.is_some()) && candidates(catalogue, Some(value)).is_empty() {
        return Err(FieldError::new(
            "filters",
            Problem::Connect(ConnectProblem::NoProviderLeft),
        ));
    }
    Ok(())
}

/// The error field of a filter key.
pub(super) fn filter_field(key: &str) -> &'static str {
    match key {
        "providers" => "filters.providers",
        "manufacturers" => "filters.manufacturers",
        "categories" => "filters.categories",
        _ => "filters.deviceTypes",
    }
}

/// The providers a session may pick from.
pub(super) fn candidates<'a>(
    catalogue: &'a [Provider],
    filters: Option<&serde_json::Value>,
) -> Vec<&'a Provider> {
    let parsed: Filters = filters
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .unwrap_or_default();
    let ids = parsed.providers.or(parsed.manufacturers);
    let categories = parsed.categories.or(parsed.device_types);
    catalogue
        .iter()
        .filter(|p| ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
        .filter(|p| {
            categories
                .as_ref()
                .is_none_or(|c| p.categories.iter().any(|pc| c.contains(pc)))
        })
        .collect()
}

pub(super) fn filters_of(context: &ConnectContext) -> Option<serde_json::Value> {
    context
        .filters
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
}
