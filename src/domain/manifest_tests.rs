use super::*;
use crate::domain::{
    BranchName, CommitSha, EnvironmentId, EnvironmentName, HelmValuesOverride, MergeRequest,
    NewEnvironment, RepositoryFilters, RepositoryName, TtlHours,
};
use chrono::{TimeZone, Utc};

fn settings() -> ManifestSettings {
    ManifestSettings {
        argocd_namespace: "argocd".into(),
        project: "blueberry-environments".into(),
        destination_server: "https://kubernetes.default.svc".into(),
        base_domain: "preview.example.com".into(),
        namespace_prefix: "bb-".into(),
        wake_service: "blueberry.blueberry.svc.cluster.local".into(),
    }
}

fn repo(path: &str) -> Repository {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Repository {
        id: "repo-1".into(),
        name: RepositoryName::parse("shop").unwrap(),
        gitlab_project_id: 15,
        path_with_namespace: path.into(),
        config_set_id: Some("cs-1".into()),
        filters: RepositoryFilters::default(),
        webhook_secret_hash: "0".repeat(64),
        webhook_signing_key: None,
        lifetime: Default::default(),
        max_environments: None,
        sleep_after_idle_minutes: None,
        sleep_schedule: None,
        created_at: now,
        updated_at: now,
    }
}

fn config_set(source: ChartSource, values: Value) -> ConfigSet {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    ConfigSet {
        id: "cs-1".into(),
        name: "web".into(),
        repo_url: "https://gitlab.example.com/acme/shop.git".into(),
        source,
        target_revision: "1.4.0".into(),
        values: values.as_object().unwrap().clone(),
        created_at: now,
        updated_at: now,
    }
}

fn environment(
    name: &str,
    branch: &str,
    sha: Option<&str>,
    mr: Option<MergeRequest>,
    over: Option<Value>,
) -> Environment {
    let name = EnvironmentName::parse(name).unwrap();
    let id = EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap());
    Environment::create(
        id,
        NewEnvironment {
            name,
            repository_id: "repo-1".into(),
            config_set_id: None,
            branch: BranchName::parse(branch).unwrap(),
            sha: sha.map(|s| CommitSha::parse(s).unwrap()),
            merge_request: mr,
            ttl_hours: TtlHours::default(),
            helm_values_override: over.map(|v| HelmValuesOverride::parse(v).unwrap()),
        },
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
    )
}

#[test]
fn merge_request_environment() {
    let env = environment(
        "pr-42",
        "feature/checkout",
        Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        Some(MergeRequest {
            iid: 42,
            title: "Checkout".into(),
            url: "https://gitlab.example.com/acme/shop/-/merge_requests/42".into(),
            author: "alice".into(),
        }),
        Some(json!({"backend": {"replicas": 2}})),
    );
    let cs = config_set(
        ChartSource::Path("helm/environment".into()),
        json!({"backend": {"replicas": 1, "image": "registry.example.com/shop/backend"}}),
    );
    let app = build_application(&env, &repo("acme/shop"), &cs, &settings());
    assert_eq!(app.name(), "env-pr-42-shop");
    assert_eq!(
        app.spec.source.target_revision,
        env.sha.as_ref().unwrap().as_str()
    );
    insta::assert_yaml_snapshot!(app);
}

#[test]
fn manual_environment() {
    let env = environment("demo", "main", None, None, None);
    let cs = config_set(
        ChartSource::Chart("shop".into()),
        json!({"frontend": {"count": 2}}),
    );
    let app = build_application(&env, &repo("acme/shop"), &cs, &settings());
    assert_eq!(app.spec.source.target_revision, "1.4.0");
    assert!(
        !app.metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(LABEL_MERGE_REQUEST),
        "manual environments carry no merge request label"
    );
    insta::assert_yaml_snapshot!(app);
}

const HOSTILE: &str =
    "x\"\n}: {evil: true}\n---\nkind: ClusterRole\n# {{ .Values }} ${HOME} 'a' &anchor *alias |\n";

#[test]
fn hostile_input_cannot_inject_a_field() {
    let branch = "feat/\"};{'--&x|y>z<w!%@$`#";
    let env = environment(
        "pr-1",
        branch,
        None,
        Some(MergeRequest {
            iid: 1,
            title: HOSTILE.into(),
            url: HOSTILE.into(),
            author: HOSTILE.into(),
        }),
        Some(json!({ "note": HOSTILE, HOSTILE: {"k": HOSTILE}, "list": [HOSTILE] })),
    );
    let cs = config_set(ChartSource::Path(HOSTILE.into()), json!({"v": HOSTILE}));
    let app = build_application(&env, &repo(HOSTILE), &cs, &settings());

    // The document has exactly the fields the builder writes, whatever the input held.
    let doc = serde_json::to_value(&app).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&doc),
        ["apiVersion", "kind", "metadata", "operation", "spec"]
    );
    assert_eq!(
        keys(&doc["spec"]),
        ["destination", "project", "source", "syncPolicy"]
    );
    assert_eq!(doc["kind"], "Application");
    assert_eq!(doc["spec"]["destination"]["namespace"], "bb-pr-1-shop");
    assert_eq!(doc["spec"]["project"], "blueberry-environments");
    // Hostile text survives as data, byte for byte, and the round trip is lossless.
    assert_eq!(doc["spec"]["source"]["path"], HOSTILE);
    assert_eq!(doc["spec"]["source"]["targetRevision"], branch);
    let values = &doc["spec"]["source"]["helm"]["valuesObject"];
    assert_eq!(values["note"], HOSTILE);
    assert_eq!(values[HOSTILE]["k"], HOSTILE);
    assert_eq!(values["blueberry"]["repository"], HOSTILE);
    let back: Application = serde_json::from_value(doc).unwrap();
    assert_eq!(back, app);
    insta::assert_yaml_snapshot!(app);
}

#[test]
fn platform_values_win_over_config_set_values() {
    let env = environment("demo", "main", None, None, None);
    let cs = config_set(
        ChartSource::Chart("shop".into()),
        json!({"blueberry": {"hostname": "evil.example.org"}}),
    );
    let app = build_application(&env, &repo("acme/shop"), &cs, &settings());
    let values = app.spec.source.helm.unwrap().values_object.unwrap();
    assert_eq!(
        values["blueberry"]["hostname"],
        "demo-shop.preview.example.com"
    );
}

#[test]
fn image_tags_are_docker_safe() {
    let env = environment("demo", "feature/Ünïcode+plus", None, None, None);
    assert_eq!(image_tag(&env), "feature--n-code-plus");
    let env = environment("demo", "x", Some("abcdef1234"), None, None);
    assert_eq!(image_tag(&env), "abcdef1234");
}

#[test]
fn an_asleep_environment_tells_the_chart_to_sleep_and_where_to_send_its_host() {
    let mut env = environment("demo", "main", None, None, None);
    let cs = config_set(ChartSource::Chart("shop".into()), json!({}));
    let values = |env: &Environment| {
        build_application(env, &repo("acme/shop"), &cs, &settings())
            .spec
            .source
            .helm
            .unwrap()
            .values_object
            .unwrap()
    };
    let awake = values(&env);
    assert_eq!(awake["blueberry"]["sleeping"], false);
    assert!(awake["blueberry"].get("wakeService").is_none());
    env.asleep = Some(crate::domain::environment::Asleep {
        since: Utc::now(),
        by: "alice".into(),
    });
    let asleep = values(&env);
    assert_eq!(asleep["blueberry"]["sleeping"], true);
    assert_eq!(
        asleep["blueberry"]["wakeService"],
        "blueberry.blueberry.svc.cluster.local"
    );
}
