//! What a Connect request carries about the customer: the location and
//! customer-info inputs, their checks (the API's and the form's), reference
//! ids and tags.

use serde::Deserialize;

use crate::error::{ConnectProblem, FieldError, Problem};
use crate::storage::{CustomerInfo, Location};

/// The longest reference id.
pub const MAX_REFERENCE_ID_CHARS: usize = 255;
pub use crate::model::connect::MAX_TAGS;
/// The longest tag.
pub const MAX_TAG_CHARS: usize = 64;
/// The largest `filters` object, serialized.
pub const MAX_FILTERS_BYTES: usize = 8 * 1024;
pub(crate) const MAX_NAME_CHARS: usize = 100;
pub(crate) const MAX_EMAIL_CHARS: usize = 254;
pub(crate) const MAX_PHONE_CHARS: usize = 32;
pub(crate) const MAX_ADDRESS_CHARS: usize = 200;

/// A location as a request carries it: each part optional, so that a partial
/// one can be refused by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct LocationInput {
    /// Street address.
    #[serde(default)]
    pub street_one: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

/// Customer details as a request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct CustomerInfoInput {
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Postal location: all five parts or none.
    #[serde(default)]
    pub location: Option<LocationInput>,
}

pub(crate) fn text_field(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(FieldError::new(field, Problem::TooLong { max }));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, Problem::InvalidCharacters));
    }
    Ok(Some(value.to_owned()))
}

/// A plausible e-mail address: one `@`, a non-empty local part, a domain
/// with a dot and no empty label, no spaces.
pub(crate) fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub(crate) fn looks_like_phone(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
}

/// Field names of the customer details, in the JSON API (`customerInfo.…`)
/// or in the hosted page's form (bare).
pub(crate) struct Names {
    first_name: &'static str,
    last_name: &'static str,
    email: &'static str,
    phone: &'static str,
    location: &'static str,
    street_one: &'static str,
    city: &'static str,
    state: &'static str,
    postal_code: &'static str,
    country: &'static str,
}

pub(crate) const API_NAMES: Names = Names {
    first_name: "customerInfo.firstName",
    last_name: "customerInfo.lastName",
    email: "customerInfo.email",
    phone: "customerInfo.phone",
    location: "customerInfo.location",
    street_one: "customerInfo.location.streetOne",
    city: "customerInfo.location.city",
    state: "customerInfo.location.state",
    postal_code: "customerInfo.location.postalCode",
    country: "customerInfo.location.country",
};

pub(crate) const FORM_NAMES: Names = Names {
    first_name: "firstName",
    last_name: "lastName",
    email: "email",
    phone: "phone",
    location: "location",
    street_one: "streetOne",
    city: "city",
    state: "state",
    postal_code: "postalCode",
    country: "country",
};

pub(crate) fn check_customer(
    input: &CustomerInfoInput,
    names: &Names,
    require_contact: bool,
) -> Result<CustomerInfo, FieldError> {
    let first_name = text_field(
        names.first_name,
        input.first_name.as_deref(),
        MAX_NAME_CHARS,
    )?;
    let last_name = text_field(names.last_name, input.last_name.as_deref(), MAX_NAME_CHARS)?;
    let email = text_field(names.email, input.email.as_deref(), MAX_EMAIL_CHARS)?;
    if email.as_deref().is_some_and(|e| !looks_like_email(e)) {
        return Err(FieldError::new(
            names.email,
            Problem::Connect(ConnectProblem::InvalidEmail),
        ));
    }
    let phone = text_field(names.phone, input.phone.as_deref(), MAX_PHONE_CHARS)?;
    if phone.as_deref().is_some_and(|p| !looks_like_phone(p)) {
        return Err(FieldError::new(
            names.phone,
            Problem::Connect(ConnectProblem::InvalidPhone),
        ));
    }
    let location = match &input.location {
        None => None,
        Some(l) => {
            let parts = [
                text_field(names.street_one, l.street_one.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(names.city, l.city.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(names.state, l.state.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(
                    names.postal_code,
                    l.postal_code.as_deref(),
                    MAX_ADDRESS_CHARS,
                )?,
                text_field(names.country, l.country.as_deref(), MAX_ADDRESS_CHARS)?,
            ];
            match parts {
                [
                    Some(street_one),
                    Some(city),
                    Some(state),
                    Some(postal_code),
                    Some(country),
                ] => Some(Location {
                    street_one,
                    city,
                    state,
                    postal_code,
                    country,
                }),
                [None, None, None, None, None] => None,
                _ => {
                    return Err(FieldError::new(
                        names.location,
                        Problem::Connect(ConnectProblem::IncompleteLocation),
                    ));
                }
            }
        }
    };
    if require_contact {
        for (name, value) in [
            (names.first_name, &first_name),
            (names.last_name, &last_name),
            (names.email, &email),
        ] {
            if value.is_none() {
                return Err(FieldError::new(name, Problem::Required));
            }
        }
    }
    Ok(CustomerInfo {
        first_name,
        last_name,
        email,
        phone,
        location,
    })
}

/// The customer step's form: first and last name and e-mail required, the
/// rest optional, a location all or nothing.
pub(crate) fn check_form_customer(input: &CustomerInfoInput) -> Result<CustomerInfo, FieldError> {
    check_customer(input, &FORM_NAMES, true)
}

/// A `referenceId` as given: 1 to [`MAX_REFERENCE_ID_CHARS`] characters,
/// no control characters, no surrounding whitespace.
pub(crate) fn check_reference_id(reference: &str) -> Result<String, FieldError> {
    // An identifier is kept exactly as given: trimming it would make
    // `"user-42 "` and `"user-42"` one customer, and lookups by the text the
    // service sent find nothing.
    if reference.trim() != reference {
        return Err(FieldError::new("referenceId", Problem::InvalidCharacters));
    }
    text_field("referenceId", Some(reference), MAX_REFERENCE_ID_CHARS)?
        .ok_or(FieldError::new("referenceId", Problem::TooShort { min: 1 }))
}

/// Checks a list of tags: at most `max` (the server's
/// [`max_connection_tags`](crate::AuthorizationServerBuilder::max_connection_tags)),
/// each 1 to [`MAX_TAG_CHARS`] characters; duplicates dropped.
pub(crate) fn check_tags(
    tags: &[String],
    field: &'static str,
    max: usize,
) -> Result<Vec<String>, FieldError> {
    if tags.len() > max {
        return Err(FieldError::new(field, Problem::TooMany { max }));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (index, tag) in tags.iter().enumerate() {
        let count = tag.chars().count();
        if count == 0 || tag.trim().is_empty() {
            return Err(FieldError::at(field, index, Problem::TooShort { min: 1 }));
        }
        if count > MAX_TAG_CHARS {
            return Err(FieldError::at(
                field,
                index,
                Problem::TooLong { max: MAX_TAG_CHARS },
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err(FieldError::at(field, index, Problem::InvalidCharacters));
        }
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    Ok(out)
}

/// Merges what a session knows of its customer: a stored customer's details
/// first (`customerId` takes priority), the session's `customerInfo` for what
/// they lack.
pub(crate) fn merged(stored: Option<&CustomerInfo>, given: &CustomerInfo) -> CustomerInfo {
    let Some(stored) = stored else {
        return given.clone();
    };
    CustomerInfo {
        first_name: stored
            .first_name
            .clone()
            .or_else(|| given.first_name.clone()),
        last_name: stored.last_name.clone().or_else(|| given.last_name.clone()),
        email: stored.email.clone().or_else(|| given.email.clone()),
        phone: stored.phone.clone().or_else(|| given.phone.clone()),
        location: stored.location.clone().or_else(|| given.location.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::session::NewConnectSession;

    #[test]
    fn email_plausibility() {
        for good in ["a@b.co", "first.last+tag@example.com"] {
            assert!(looks_like_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@@b.co", "a b@c.co", "a@b..co", "a@.co",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn location_is_all_or_nothing() {
        let partial = CustomerInfoInput {
            location: Some(LocationInput {
                street_one: Some("1 Main St".into()),
                city: Some("Springfield".into()),
                ..LocationInput::default()
            }),
            ..CustomerInfoInput::default()
        };
        let err = check_customer(&partial, &API_NAMES, false).unwrap_err();
        assert_eq!(err.field, "customerInfo.location");
        assert_eq!(
            err.problem,
            Problem::Connect(ConnectProblem::IncompleteLocation)
        );
        let empty = CustomerInfoInput {
            location: Some(LocationInput::default()),
            ..CustomerInfoInput::default()
        };
        assert_eq!(
            check_customer(&empty, &API_NAMES, false).unwrap().location,
            None
        );
    }

    /// The client's `state` (often its CSRF token) never prints; the
    /// rest of the request does.
    #[test]
    fn a_new_session_redacts_its_state_in_debug() {
        let body: NewConnectSession = serde_json::from_str(
            r#"{"redirectUrl": "https://app.example.com/callback", "state": "client-csrf-f00dfeed"}"#,
        )
        .unwrap();
        let shown = format!("{body:?}");
        assert!(!shown.contains("client-csrf-f00dfeed"), "{shown}");
        assert!(shown.contains("state: Some(\"[redacted]\")"), "{shown}");
        assert!(
            shown.contains("https://app.example.com/callback"),
            "{shown}"
        );
        assert!(format!("{:?}", NewConnectSession::default()).contains("state: None"));
    }

    #[test]
    fn tags_are_bounded_and_deduplicated() {
        let tags: Vec<String> = ["a", "b", "a"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(check_tags(&tags, "tags", MAX_TAGS).unwrap(), ["a", "b"]);
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(check_tags(&many, "tags", MAX_TAGS).is_err());
        assert!(check_tags(&["x".repeat(65)], "tags", MAX_TAGS).is_err());
        assert!(check_tags(&["x".repeat(64)], "tags", MAX_TAGS).is_ok());
        assert!(check_tags(&[String::new()], "tags", MAX_TAGS).is_err());
        // The server's configured cap, not the default, bounds the count.
        assert!(check_tags(&many[..3], "tags", 3).is_ok());
        assert!(matches!(
            check_tags(&many[..4], "tags", 3),
            Err(e) if e.problem == Problem::TooMany { max: 3 }
        ));
    }
}
