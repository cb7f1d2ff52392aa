//! `blueberry sim-cluster` speaks real Kubernetes: the machine's kubectl drives it.

use std::{process::Command, time::Duration};

use blueberry::domain::manifest::build_application;
use serde_json::Value;

use crate::helpers::{Process, free_port};

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is not installed: this test needs kubectl on PATH (`.ci/run` installs it)")
}

#[tokio::test]
async fn kubectl_lists_applies_and_watches_applications_on_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("k.yaml");
    let port = free_port();
    let _sim = Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args([
                "sim-cluster",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--ready-delay-ms",
                "300",
                "--kubeconfig-out",
            ])
            .arg(&kubeconfig)
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if kubeconfig.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = kubectl(&kubeconfig, &["get", "applications.argoproj.io", "-A"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A manifest rendered by the real builder, applied server-side.
    let manifest = serde_json::to_string(&rendered_manifest()).unwrap();
    let file = dir.path().join("app.json");
    std::fs::write(&file, manifest).unwrap();
    let out = kubectl(
        &kubeconfig,
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("env-pr-7-shop serverside-applied"));

    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "applications.argoproj.io", "-n", "argocd", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = watch.kill();
    let printed = String::from_utf8_lossy(&watch.wait_with_output().unwrap().stdout).into_owned();
    assert!(
        printed.contains("env-pr-7-shop") && printed.contains("Healthy"),
        "kubectl get -w printed:\n{printed}"
    );

    let out = kubectl(
        &kubeconfig,
        &[
            "get",
            "applications.argoproj.io",
            "env-pr-7-shop",
            "-n",
            "argocd",
            "-o",
            "json",
        ],
    );
    let app: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(app["status"]["health"]["status"], "Healthy");
    assert_eq!(app["status"]["sync"]["status"], "Synced");

    let out = kubectl(
        &kubeconfig,
        &["get", "applications.argoproj.io", "missing", "-n", "argocd"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"missing\" not found"));
    let out = kubectl(
        &kubeconfig,
        &[
            "delete",
            "applications.argoproj.io",
            "env-pr-7-shop",
            "-n",
            "argocd",
            "--wait=true",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(
        &kubeconfig,
        &["get", "applications.argoproj.io", "-A", "-o", "name"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

fn rendered_manifest() -> blueberry::domain::manifest::Application {
    use blueberry::domain::{manifest::ManifestSettings, *};
    let now = chrono::Utc::now();
    let name = EnvironmentName::for_merge_request(7);
    let repo_name = RepositoryName::parse("shop").unwrap();
    let env = Environment::create(
        EnvironmentId::derive(&name, &repo_name),
        NewEnvironment {
            name,
            repository_id: "r".into(),
            config_set_id: Some("c".into()),
            branch: BranchName::parse("feature/x").unwrap(),
            sha: Some(CommitSha::parse("da1560886d4f094c3e6c9ef40349f7d38b5d27d7").unwrap()),
            merge_request: None,
            ttl_hours: TtlHours::default(),
            helm_values_override: None,
        },
        now,
    );
    let repo = Repository {
        id: "r".into(),
        name: repo_name,
        gitlab_project_id: 1,
        path_with_namespace: "acme/shop".into(),
        config_set_id: Some("c".into()),
        filters: RepositoryFilters::default(),
        webhook_secret_hash: String::new(),
        webhook_signing_key: None,
        lifetime: Default::default(),
        max_environments: None,
        sleep_after_idle_minutes: None,
        sleep_schedule: None,
        created_at: now,
        updated_at: now,
    };
    let cs = ConfigSet {
        id: "c".into(),
        name: "web".into(),
        repo_url: "https://gitlab.example.com/acme/shop.git".into(),
        source: ChartSource::Path("helm/environment".into()),
        target_revision: "main".into(),
        values: Default::default(),
        created_at: now,
        updated_at: now,
    };
    let settings = ManifestSettings {
        argocd_namespace: "argocd".into(),
        project: "default".into(),
        destination_server: "https://kubernetes.default.svc".into(),
        base_domain: "preview.localhost".into(),
        namespace_prefix: "bb-".into(),
        wake_service: "blueberry.blueberry.svc.cluster.local".into(),
    };
    build_application(&env, &repo, &cs, &settings)
}
