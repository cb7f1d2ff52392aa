//! JSON → a Helm values override → merged between the config set's values and the platform's,
//! as `build_application` does. Whatever is accepted never displaces what the platform owns
//! and is accepted again as it was; nothing may panic.

#![no_main]

use blueberry::domain::overrides::{
    HelmValuesOverride, MAX_OVERRIDE_BYTES, PLATFORM_KEY, deep_merge,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn forbidden_key_anywhere(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "namespace" | "namespaceoverride" | "project" | "destination"
            ) || forbidden_key_anywhere(v)
        }),
        Value::Array(items) => items.iter().any(forbidden_key_anywhere),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(over) = HelmValuesOverride::parse(value) else {
        return;
    };
    let accepted = Value::Object(over.as_map().clone());
    assert!(serde_json::to_vec(&accepted).unwrap().len() <= MAX_OVERRIDE_BYTES);
    assert!(!forbidden_key_anywhere(&accepted), "{accepted}");
    assert_eq!(
        HelmValuesOverride::parse(accepted).as_ref(),
        Ok(&over),
        "accepted again as it was"
    );

    let platform: Map<String, Value> = json!({
        PLATFORM_KEY: {"environmentId": "pr-1-shop", "hostname": "pr-1-shop.example.com"}
    })
    .as_object()
    .unwrap()
    .clone();
    let mut values: Map<String, Value> = json!({
        "replicas": 1,
        "global": {"blueberry": {"owned": true}},
        "image": {"repository": "registry.example.com/shop"}
    })
    .as_object()
    .unwrap()
    .clone();
    deep_merge(&mut values, over.as_map());
    deep_merge(&mut values, &platform);
    assert_eq!(values[PLATFORM_KEY], platform[PLATFORM_KEY]);
    if let Some(Value::Object(global)) = values.get("global") {
        assert_eq!(
            global.get(PLATFORM_KEY),
            Some(&json!({"owned": true})),
            "global.blueberry stays the config set's"
        );
    }
});
