//! Reading stored timestamps fast.
//!
//! Records keep their times as chrono writes them: RFC 3339 in UTC with a `Z` and zero to nine
//! fraction digits (`2026-12-04T18:22:49.123456Z`). Listing environments parses eight or more of
//! them per record, and chrono's general parser (which also takes offsets, spaces and unpadded
//! fields) was 7 % of a list request's CPU. [`parse`] reads exactly that shape by hand and
//! hands anything else to chrono, so every time chrono accepts still reads the same.
//!
//! Fields use it through `#[serde(with = "timestamp")]` / `"timestamp::option"` (with
//! `default`: a `with` option field is not optional to serde by itself); writing is chrono's.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserializer, Serialize, Serializer, de};

/// `s` as a UTC time: the stored shape by hand, anything else by chrono's RFC 3339 parser.
pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match parse_stored(s.as_bytes()) {
        Some(t) => Ok(t),
        None => s
            .parse::<DateTime<FixedOffset>>()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, or `None` for any other shape (or an invalid date, which
/// chrono then refuses with its own message).
fn parse_stored(b: &[u8]) -> Option<DateTime<Utc>> {
    let (&b'Z', b) = b.split_last()? else {
        return None;
    };
    if b.len() < 19 || [b[4], b[7], b[10], b[13], b[16]] != *b"--T::" {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(digits)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)?
        .and_hms_nano_opt(
            number(&b[11..13])?,
            number(&b[14..16])?,
            number(&b[17..19])?,
            nanos,
        )
        .map(|t| t.and_utc())
}

struct Visitor;

impl de::Visitor<'_> for Visitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        parse(s).map_err(E::custom)
    }
}

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    t.serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(Visitor)
}

/// The same for `Option<DateTime<Utc>>` (`null` is `None`).
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serialize, Serializer, de};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        t.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        struct Maybe;
        impl<'de> de::Visitor<'de> for Maybe {
            type Value = Option<DateTime<Utc>>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("null or an RFC 3339 formatted date and time string")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
        d.deserialize_option(Maybe)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, FixedOffset, TimeZone, Utc};
    use proptest::prelude::*;

    use super::{parse, parse_stored};

    fn chrono(s: &str) -> Option<DateTime<Utc>> {
        s.parse::<DateTime<FixedOffset>>()
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn the_stored_shape_is_read_by_hand() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 18, 22, 49).unwrap();
        assert_eq!(parse_stored(b"2026-12-04T18:22:49Z"), Some(t));
        assert_eq!(
            parse_stored(b"2026-12-04T18:22:49.5Z"),
            Some(t + chrono::Duration::milliseconds(500))
        );
        assert_eq!(
            parse_stored(b"2026-12-04T18:22:49.000000007Z"),
            Some(t + chrono::Duration::nanoseconds(7))
        );
    }

    #[test]
    fn other_shapes_go_to_chrono() {
        for s in [
            "2026-12-04T18:22:49+01:00",
            "2026-12-04 18:22:49Z",
            "2026-12-04T18:22:49.1234567891Z",
            "2026-12-04T18:22:49.Z",
            "+2026-12-04T18:22:49Z",
            "2026-02-30T18:22:49Z",
        ] {
            assert_eq!(parse_stored(s.as_bytes()), None, "{s}");
            assert_eq!(parse(s).ok(), chrono(s), "{s}");
        }
        assert_eq!(
            parse("2026-12-04T19:22:49+01:00").ok(),
            parse("2026-12-04T18:22:49Z").ok()
        );
        assert!(parse("2026-02-30T18:22:49Z").is_err());
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn serde_reads_what_chrono_wrote_and_null_as_none() {
        #[derive(Debug, serde::Deserialize)]
        struct Record {
            #[serde(with = "super")]
            at: DateTime<Utc>,
            #[serde(default, with = "super::option")]
            until: Option<DateTime<Utc>>,
            #[serde(default, with = "super::option")]
            since: Option<DateTime<Utc>>,
            #[serde(default, with = "super::option")]
            gone: Option<DateTime<Utc>>,
        }
        let at =
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::nanoseconds(600);
        let json = format!(
            r#"{{"at":{},"until":null,"since":{}}}"#,
            serde_json::to_string(&at).unwrap(),
            serde_json::to_string(&at).unwrap()
        );
        let r: Record = serde_json::from_str(&json).unwrap();
        assert_eq!((r.at, r.until, r.since, r.gone), (at, None, Some(at), None));
        let wrong = serde_json::from_str::<Record>(r#"{"at":"noon"}"#).unwrap_err();
        assert!(
            wrong
                .to_string()
                .contains("input contains invalid characters"),
            "{wrong}"
        );
    }

    proptest! {
        /// Whatever chrono writes for a UTC time reads back as that time.
        #[test]
        fn what_chrono_writes_reads_back(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let written = serde_json::to_value(t).unwrap();
            let s = written.as_str().unwrap();
            prop_assert_eq!(parse_stored(s.as_bytes()), Some(t));
            let micros = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            prop_assert_eq!(parse_stored(micros.as_bytes()), chrono(&micros));
        }

        /// On any string shaped like a stored time, the hand parser agrees with chrono or
        /// leaves it to chrono.
        #[test]
        fn agrees_with_chrono(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?Z?") {
            if let Some(t) = parse_stored(s.as_bytes()) {
                prop_assert_eq!(Some(t), chrono(&s));
            }
            prop_assert_eq!(parse(&s).ok(), chrono(&s));
        }
    }
}
