//! Whole numbers as JSON Schema counts them: `46` and `46.0` are the same integer. serde reads
//! `46.0` only into floats, so fields documented as integers read through these.

use serde::{Deserialize, Deserializer, de::Error};

fn whole<E: Error>(n: serde_json::Number) -> Result<i128, E> {
    if let Some(i) = n.as_i64() {
        return Ok(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(i128::from(u));
    }
    match n.as_f64() {
        // Beyond 2^63 a float no longer holds a whole number exactly.
        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i128),
        _ => Err(E::custom(format!(
            "invalid type: {n}, expected a whole number"
        ))),
    }
}

fn fit<T: TryFrom<i128>, E: Error>(n: i128) -> Result<T, E> {
    T::try_from(n).map_err(|_| E::custom(format!("{n} is out of range")))
}

/// An integer field: `#[serde(deserialize_with = "whole::integer")]`.
pub fn integer<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    fit(whole(serde_json::Number::deserialize(d)?)?)
}

/// An optional integer field: `#[serde(default, deserialize_with = "whole::optional")]`.
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(|n| fit(whole(n)?))
        .transpose()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        hours: i64,
        #[serde(default, deserialize_with = "super::optional")]
        id: Option<u64>,
    }

    fn read(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_integers_and_nothing_else_is() {
        let b = read(r#"{"hours": 46.0, "id": 7.0}"#).unwrap();
        assert_eq!((b.hours, b.id), (46, Some(7)));
        assert_eq!(read(r#"{"hours": 3}"#).unwrap().id, None);
        assert_eq!(read(r#"{"hours": 3, "id": null}"#).unwrap().id, None);
        assert!(
            read(r#"{"hours": 4.5}"#)
                .unwrap_err()
                .contains("whole number")
        );
        assert!(read(r#"{"hours": "4"}"#).is_err());
        assert!(
            read(r#"{"hours": 1, "id": -1}"#)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(read(r#"{"hours": 1e300}"#).is_err());
        assert!(read(r#"{"hours": 9223372036854775808}"#).is_err());
    }
}
