//! `helm_values_override`: user-supplied Helm values merged over the config set's values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest accepted override, serialized as JSON.
pub const MAX_OVERRIDE_BYTES: usize = 64 * 1024;

/// Keys that would move the workload out of its namespace or into another Argo CD project,
/// refused at any depth (compared case-insensitively).
const FORBIDDEN_ANYWHERE: [&str; 4] = ["namespace", "namespaceoverride", "project", "destination"];

/// Top-level keys the platform owns: it writes them itself (DESIGN.md §4).
pub const PLATFORM_KEY: &str = "blueberry";

/// A validated override: a JSON object no bigger than 64 KiB that touches nothing the platform
/// owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HelmValuesOverride(Map<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("must be a JSON object")]
    NotAnObject,
    #[error("must be at most {MAX_OVERRIDE_BYTES} bytes as JSON (got {0})")]
    TooLarge(usize),
    #[error("key `{0}` is not allowed: it would change the namespace or Argo CD project")]
    ForbiddenKey(String),
    #[error("key `{0}` is owned by the platform and cannot be overridden")]
    PlatformOwned(String),
}

impl HelmValuesOverride {
    pub fn parse(value: Value) -> Result<Self, OverrideError> {
        let Value::Object(map) = value else {
            return Err(OverrideError::NotAnObject);
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_OVERRIDE_BYTES {
            return Err(OverrideError::TooLarge(size));
        }
        if map.contains_key(PLATFORM_KEY) {
            return Err(OverrideError::PlatformOwned(PLATFORM_KEY.to_owned()));
        }
        if let Some(Value::Object(global)) = map.get("global")
            && global.contains_key(PLATFORM_KEY)
        {
            return Err(OverrideError::PlatformOwned(format!(
                "global.{PLATFORM_KEY}"
            )));
        }
        check_keys(&map, "")?;
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

fn check_keys(map: &Map<String, Value>, prefix: &str) -> Result<(), OverrideError> {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if FORBIDDEN_ANYWHERE.contains(&key.to_ascii_lowercase().as_str()) {
            return Err(OverrideError::ForbiddenKey(path));
        }
        check_value(value, &path)?;
    }
    Ok(())
}

fn check_value(value: &Value, path: &str) -> Result<(), OverrideError> {
    match value {
        Value::Object(inner) => check_keys(inner, path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(v, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

/// Deep-merges `over` into `base`: objects merge key by key, anything else replaces.
pub fn deep_merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => deep_merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn accepts_ordinary_values() {
        let o =
            HelmValuesOverride::parse(json!({"backend": {"replicas": 2, "env": [{"name": "A"}]}}))
                .unwrap();
        assert_eq!(o.as_map()["backend"]["replicas"], 2);
    }

    #[test]
    fn refuses_non_objects() {
        for v in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert_eq!(
                HelmValuesOverride::parse(v),
                Err(OverrideError::NotAnObject)
            );
        }
    }

    #[test]
    fn refuses_namespace_and_project_at_any_depth() {
        assert_eq!(
            HelmValuesOverride::parse(json!({"namespace": "kube-system"})),
            Err(OverrideError::ForbiddenKey("namespace".into()))
        );
        assert_eq!(
            HelmValuesOverride::parse(json!({"backend": {"Namespace": "x"}})),
            Err(OverrideError::ForbiddenKey("backend.Namespace".into()))
        );
        assert_eq!(
            HelmValuesOverride::parse(json!({"list": [{"project": "default"}]})),
            Err(OverrideError::ForbiddenKey("list[0].project".into()))
        );
    }

    #[test]
    fn refuses_platform_owned_values() {
        assert_eq!(
            HelmValuesOverride::parse(json!({"blueberry": {"hostname": "evil.com"}})),
            Err(OverrideError::PlatformOwned("blueberry".into()))
        );
        assert_eq!(
            HelmValuesOverride::parse(json!({"global": {"blueberry": {}}})),
            Err(OverrideError::PlatformOwned("global.blueberry".into()))
        );
    }

    #[test]
    fn refuses_more_than_64_kib() {
        let big = "x".repeat(MAX_OVERRIDE_BYTES);
        assert!(matches!(
            HelmValuesOverride::parse(json!({"blob": big})),
            Err(OverrideError::TooLarge(n)) if n > MAX_OVERRIDE_BYTES
        ));
    }

    #[test]
    fn merge_is_deep_and_later_wins() {
        let mut base = json!({"a": {"x": 1, "y": 2}, "b": [1]})
            .as_object()
            .unwrap()
            .clone();
        let over = json!({"a": {"y": 3}, "b": [2]})
            .as_object()
            .unwrap()
            .clone();
        deep_merge(&mut base, &over);
        assert_eq!(
            Value::Object(base),
            json!({"a": {"x": 1, "y": 3}, "b": [2]})
        );
    }

    proptest! {
        #[test]
        fn merged_values_contain_every_override_leaf(k in "[a-z]{1,8}", v in any::<i64>()) {
            let mut base = json!({"keep": true}).as_object().unwrap().clone();
            let over = json!({ k.clone(): { "leaf": v } }).as_object().unwrap().clone();
            deep_merge(&mut base, &over);
            prop_assert_eq!(&base[&k]["leaf"], &json!(v));
            if k != "keep" { prop_assert_eq!(&base["keep"], &json!(true)); }
        }
    }
}
