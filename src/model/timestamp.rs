//! Timestamps as the JSON API shows them: RFC 3339, UTC, milliseconds, `Z`
//! (`2025-06-01T00:00:00.000Z`).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Truncates `at` to whole milliseconds in UTC, the precision every record
/// keeps (so a value read back from any backend equals the one written).
pub(crate) fn truncate_ms(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    let nanos = at.nanosecond();
    at.replace_nanosecond(nanos - nanos % 1_000_000)
        .unwrap_or(at)
}

/// Formats `at` as `2025-06-01T00:00:00.000Z`.
pub(crate) fn format(at: OffsetDateTime) -> String {
    truncate_ms(at).format(FORMAT).unwrap_or_default()
}

/// `serde(with = "…")` for `OffsetDateTime` fields.
pub(crate) mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(crate) fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*at))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = <&str>::deserialize(d)?;
        OffsetDateTime::parse(text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// `serde(with = "…")` for `Option<OffsetDateTime>` fields.
pub(crate) mod rfc3339_ms_option {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&super::format(*at)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(
            format(datetime!(2025-06-01 00:00 UTC)),
            "2025-06-01T00:00:00.000Z"
        );
        assert_eq!(
            format(datetime!(2025-06-01 02:00:00.123_456_789 +02:00)),
            "2025-06-01T00:00:00.123Z"
        );
    }

    #[test]
    fn truncation_drops_sub_millisecond_digits() {
        let at = truncate_ms(datetime!(2025-06-01 00:00:00.999_999 UTC));
        assert_eq!(at, datetime!(2025-06-01 00:00:00.999 UTC));
    }
}
