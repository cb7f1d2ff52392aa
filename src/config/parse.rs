//! Parsers for the settings clap cannot check by type alone; each names what is wrong.

use crate::domain::TtlHours;

pub(super) fn parse_ttl(s: &str) -> Result<TtlHours, String> {
    let h: i64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of hours"))?;
    TtlHours::new(h).map_err(|e| e.to_string())
}

pub(super) fn parse_domain(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 253 - 64
        && s.split('.')
            .all(|l| crate::domain::names::check_dns_label(l).is_ok());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a DNS domain (lowercase labels separated by dots)"
        ))
    }
}

pub(super) fn parse_url(s: &str) -> Result<String, String> {
    if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len() {
        Ok(s.trim_end_matches('/').to_owned())
    } else {
        Err(format!("{s:?} is not an http(s) URL"))
    }
}

/// A price: a finite number of dollars, zero or more.
pub(super) fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!(
            "must be a price in dollars, 0 or more (like 0.0445), not {s:?}"
        )),
    }
}

pub(super) fn parse_positive(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} must be a whole number greater than 0")),
    }
}

pub(super) fn parse_session_key(s: &str) -> Result<secrecy::SecretString, String> {
    if s.len() < 32 {
        return Err("must be at least 32 characters".into());
    }
    Ok(secrecy::SecretString::from(s.to_owned()))
}

pub(super) fn parse_secret(s: &str) -> Result<secrecy::SecretString, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(secrecy::SecretString::from(s.to_owned()))
}
