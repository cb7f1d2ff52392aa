//! The deployment artifacts, checked offline (no cluster, no Helm): every YAML under
//! `argocd-apps/` parses and its Applications deserialize into the platform's own type; both
//! charts' `values.yaml` validate against their `values.schema.json`; and the Helm values the
//! manifest builder puts into an Application validate against the environment chart's schema,
//! so the platform and the chart cannot drift apart.
//!
//! Long on purpose: one check per deployment artifact, sharing the YAML and schema loading at the
//! top.

use std::path::{Path, PathBuf};

use blueberry::{
    config::Config,
    domain::{
        BranchName, ChartSource, CommitSha, ConfigSet, Environment, EnvironmentId, EnvironmentName,
        MergeRequest, NewEnvironment, Repository, RepositoryName, TtlHours,
        manifest::{Application, ManifestSettings, build_application},
        overrides::HelmValuesOverride,
    },
};
use chrono::Utc;
use serde_json::{Value, json};

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every document of a YAML file, as JSON.
fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn validator(rel: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn problems(v: &jsonschema::Validator, value: &Value) -> Vec<String> {
    v.iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn argocd_apps_parse_and_their_applications_are_the_platforms_type() {
    let defaults = Config::default();
    let mut kinds = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(repo_path("argocd-apps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let rel = format!(
            "argocd-apps/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        for doc in yaml_docs(&rel) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let labels = doc["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(
                labels.keys().any(|k| k.starts_with("blueberry.io/")),
                "{rel}: {kind} has no blueberry.io/* label"
            );
            match kind.as_str() {
                "Application" => {
                    let app: Application = serde_json::from_value(doc.clone())
                        .unwrap_or_else(|e| panic!("{rel}: not an Application: {e}"));
                    assert_eq!(app.api_version, "argoproj.io/v1alpha1", "{rel}");
                    let source = &app.spec.source;
                    if let Some(path) = &source.path {
                        assert!(repo_path(path).is_dir(), "{rel}: no folder {path} here");
                    }
                    assert_eq!(app.metadata.namespace.as_deref(), Some("argocd"), "{rel}");
                }
                "AppProject" => {
                    assert_eq!(doc["metadata"]["name"], defaults.argocd_project.as_str());
                    let destinations = doc["spec"]["destinations"].as_array().unwrap();
                    let wanted = format!("{}*", defaults.namespace_prefix);
                    assert!(
                        destinations
                            .iter()
                            .all(|d| d["namespace"] == wanted.as_str()),
                        "{rel}: environments may only go to {wanted}: {destinations:?}"
                    );
                    let cluster = doc["spec"]["clusterResourceWhitelist"].as_array().unwrap();
                    assert_eq!(cluster, &vec![json!({"group": "", "kind": "Namespace"})]);
                }
                "ConfigMap" => {
                    let lua = doc["data"]["resource.customizations.health.argoproj.io_Application"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{rel}: no Application health check"));
                    assert!(lua.contains("obj.status.health") && lua.contains("Synced"));
                }
                other => panic!("{rel}: unexpected kind {other:?}"),
            }
            kinds.push(kind);
        }
    }
    for kind in ["Application", "AppProject", "ConfigMap"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in argocd-apps/");
    }
    // The platform's own Application is the helm/blueberry chart, with values it accepts.
    let platform = yaml_docs("argocd-apps/blueberry.yaml").remove(0);
    let mut values = yaml_docs("helm/blueberry/values.yaml").remove(0);
    merge(
        &mut values,
        &platform["spec"]["source"]["helm"]["valuesObject"],
    );
    let errors = problems(&validator("helm/blueberry/values.schema.json"), &values);
    assert!(errors.is_empty(), "{errors:#?}");
}

fn merge(into: &mut Value, over: &Value) {
    match (into, over) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[test]
fn both_charts_values_validate_against_their_schemas_and_the_schemas_bite() {
    for chart in ["helm/blueberry", "helm/environment"] {
        let v = validator(&format!("{chart}/values.schema.json"));
        let values = yaml_docs(&format!("{chart}/values.yaml")).remove(0);
        let errors = problems(&v, &values);
        assert!(errors.is_empty(), "{chart}: {errors:#?}");
        let chart_yaml = yaml_docs(&format!("{chart}/Chart.yaml")).remove(0);
        assert_eq!(chart_yaml["apiVersion"], "v2", "{chart}");
    }
    let platform = validator("helm/blueberry/values.schema.json");
    let mut values = yaml_docs("helm/blueberry/values.yaml").remove(0);
    values["image"]["digest"] = json!("latest");
    values["secrets"]["gitlabToken"] = json!("glpat-inline-secret");
    let errors = problems(&platform, &values);
    assert!(
        errors.iter().any(|e| e.contains("/image/digest")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("gitlabToken")),
        "secret values may not be inlined: {errors:#?}"
    );
    let deps = &yaml_docs("helm/blueberry/Chart.yaml")[0]["dependencies"];
    assert!(
        deps.as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "redis"),
        "Redis is a sub-chart"
    );
}

fn settings() -> ManifestSettings {
    let c = Config::default();
    ManifestSettings {
        argocd_namespace: c.argocd_namespace,
        project: c.argocd_project,
        destination_server: c.destination_server,
        base_domain: "preview.example.com".into(),
        namespace_prefix: c.namespace_prefix,
        wake_service: c.wake_service,
    }
}

fn environment(name: &str, sha: Option<&str>, mr: Option<u64>, over: Option<Value>) -> Environment {
    let name = EnvironmentName::parse(name).unwrap();
    Environment::create(
        EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap()),
        NewEnvironment {
            name,
            repository_id: "repo".into(),
            config_set_id: None,
            branch: BranchName::parse("feature/checkout").unwrap(),
            sha: sha.map(|s| CommitSha::parse(s).unwrap()),
            merge_request: mr.map(|iid| MergeRequest {
                iid,
                title: "Checkout".into(),
                url: format!("https://gitlab.example.com/acme/shop/-/merge_requests/{iid}"),
                author: "alice".into(),
            }),
            ttl_hours: TtlHours::default(),
            helm_values_override: over.map(|v| HelmValuesOverride::parse(v).unwrap()),
        },
        Utc::now(),
    )
}

/// A config set as a platform team writes it: the chart's defaults without the platform's part.
fn config_set(values: Value) -> ConfigSet {
    ConfigSet {
        id: "cs".into(),
        name: "web".into(),
        repo_url: "https://gitlab.example.com/platform/blueberry.git".into(),
        source: ChartSource::Path("helm/environment".into()),
        target_revision: "main".into(),
        values: values.as_object().unwrap().clone(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn repository() -> Repository {
    Repository {
        id: "repo".into(),
        name: RepositoryName::parse("shop").unwrap(),
        gitlab_project_id: 15,
        path_with_namespace: "acme/shop".into(),
        config_set_id: Some("cs".into()),
        filters: Default::default(),
        webhook_secret_hash: String::new(),
        webhook_signing_key: None,
        lifetime: Default::default(),
        max_environments: None,
        sleep_after_idle_minutes: None,
        sleep_schedule: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn chart_defaults() -> Value {
    let mut values = yaml_docs("helm/environment/values.yaml").remove(0);
    values.as_object_mut().unwrap().remove("blueberry");
    values
}

#[test]
fn what_the_platform_sends_validates_against_the_environment_chart() {
    let schema = validator("helm/environment/values.schema.json");
    let sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
    let mut bare_images = chart_defaults();
    bare_images["backend"]["image"] = json!("registry.gitlab.com/acme/shop/backend");
    let mut asleep = environment("pr-9", Some(sha), Some(9), None);
    asleep.asleep = Some(blueberry::domain::environment::Asleep {
        since: chrono::Utc::now(),
        by: "alice".into(),
    });
    let cases = [
        ("asleep", asleep, chart_defaults()),
        (
            "merge request",
            environment("pr-42", Some(sha), Some(42), None),
            chart_defaults(),
        ),
        (
            "manual, on a branch",
            environment("demo", None, None, None),
            chart_defaults(),
        ),
        (
            "with an override",
            environment(
                "big",
                None,
                None,
                Some(json!({"backend": {"replicas": 3, "env": {"FEATURE_X": "on"}}})),
            ),
            chart_defaults(),
        ),
        (
            "images tagged by commit",
            environment("pr-7", Some(sha), Some(7), None),
            bare_images,
        ),
    ];
    for (what, env, values) in cases {
        let app = build_application(&env, &repository(), &config_set(values), &settings());
        let sent = Value::Object(app.spec.source.helm.unwrap().values_object.unwrap());
        let errors = problems(&schema, &sent);
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{sent:#}");
        assert_eq!(
            sent["blueberry"]["environmentId"],
            env.id.as_str(),
            "{what}"
        );
    }
    // An override the chart cannot take is caught here, not in a cluster.
    let env = environment(
        "bad",
        None,
        None,
        Some(json!({"backend": {"replicas": "two"}})),
    );
    let app = build_application(
        &env,
        &repository(),
        &config_set(chart_defaults()),
        &settings(),
    );
    let sent = Value::Object(app.spec.source.helm.unwrap().values_object.unwrap());
    let errors = problems(&schema, &sent);
    assert!(
        errors.iter().any(|e| e.contains("/backend/replicas")),
        "{errors:#?}"
    );
}

/// The templates of a chart, by file name.
fn templates(chart: &str) -> Vec<(String, String)> {
    let dir = repo_path(&format!("{chart}/templates"));
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_environment_chart_orders_its_objects_in_sync_waves() {
    let waves = [
        ("config.yaml", "0"),
        ("redis.yaml", "0"),
        ("backend.yaml", "1"),
        ("frontends.yaml", "2"),
        ("ingress.yaml", "3"),
        ("waker.yaml", "3"),
    ];
    let all = templates("helm/environment");
    for (file, wave) in waves {
        let (_, text) = all
            .iter()
            .find(|(f, _)| f == file)
            .unwrap_or_else(|| panic!("no {file}"));
        let kinds = text.matches("\nkind: ").count() + usize::from(text.starts_with("kind: "));
        let annotated = text
            .matches(&format!("argocd.argoproj.io/sync-wave: \"{wave}\""))
            .count();
        assert!(
            kinds > 0 && annotated == kinds,
            "{file}: {annotated} of {kinds} objects in wave {wave}"
        );
    }
    for (file, text) in &all {
        if text.contains("kind: Deployment") {
            assert!(
                text.contains("resources:"),
                "{file}: Autopilot bills requests; set them"
            );
            assert!(
                text.contains("environment.image"),
                "{file}: images go through the digest rule"
            );
            // Asleep, nothing runs (no Helm renderer here: the template's text is checked).
            assert!(
                text.contains("replicas: {{ if .Values.blueberry.sleeping }}0")
                    || text.contains("replicas: {{ if $.Values.blueberry.sleeping }}0"),
                "{file}: a sleeping environment scales this Deployment to 0"
            );
        }
    }
    // Asleep, the host goes to Blueberry through an ExternalName Service.
    let text = |f: &str| &all.iter().find(|(n, _)| n == f).unwrap().1;
    let waker = text("waker.yaml");
    assert!(waker.starts_with("{{- if .Values.blueberry.sleeping }}"));
    assert!(
        waker.contains("type: ExternalName") && waker.contains(".Values.blueberry.wakeService")
    );
    let ingress = text("ingress.yaml");
    assert!(ingress.contains("{{- if .Values.blueberry.sleeping }}") && ingress.contains("-waker"));
}

#[test]
fn the_platform_chart_manages_applications_and_nothing_else() {
    let all = templates("helm/blueberry");
    let text: String = all.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        !text.contains("kind: ClusterRole"),
        "no cluster-wide rights"
    );
    assert!(
        !text.contains("kind: Secret\n"),
        "secrets are referenced, never created"
    );
    let (_, rbac) = all.iter().find(|(f, _)| f == "rbac.yaml").unwrap();
    assert_eq!(rbac.matches("apiGroups:").count(), 1, "one rule");
    assert!(rbac.contains(r#"apiGroups: ["argoproj.io"]"#));
    assert!(rbac.contains(r#"resources: ["applications"]"#));
    assert!(rbac.contains("namespace: {{ .Values.argocd.namespace }}"));
    for probe in ["path: /healthz", "path: /readyz"] {
        assert!(text.contains(probe), "probe {probe}");
    }
    for kind in [
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "ServiceAccount",
    ] {
        assert!(text.contains(&format!("kind: {kind}")), "no {kind}");
    }
    assert!(
        text.contains("iam.gke.io/gcp-service-account"),
        "Workload Identity"
    );
    for role in ["api", "worker"] {
        assert!(
            all.iter()
                .any(|(f, t)| f == &format!("deployment-{role}.yaml")
                    && t.contains("kind: Deployment")),
            "no {role} Deployment"
        );
    }
}
