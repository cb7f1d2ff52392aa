//! What the simulated Argo CD "renders" from an Application: the resources `helm/environment`
//! would produce from its values, each with the sync wave its template annotates, and how Argo
//! CD reports them in `status.resources`.

use serde_json::{Value, json};

/// One managed resource and where it is in its sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// `argocd.argoproj.io/sync-wave` of its template.
    pub wave: i64,
    /// `Synced` or `OutOfSync`.
    pub sync: &'static str,
    /// `Healthy`, `Progressing`, `Degraded`, `Missing`; None for kinds without a health check.
    pub health: Option<&'static str>,
    pub message: Option<String>,
}

impl Resource {
    fn new(
        (group, version, kind): (&'static str, &'static str, &'static str),
        namespace: &str,
        name: String,
        wave: i64,
    ) -> Self {
        let checked = !matches!(kind, "ConfigMap");
        Self {
            group,
            version,
            kind,
            namespace: namespace.to_owned(),
            name,
            wave,
            sync: "OutOfSync",
            health: checked.then_some("Missing"),
            message: None,
        }
    }

    /// Whether this is the backend Deployment (the one fault modes break).
    pub fn is_backend(&self) -> bool {
        self.kind == "Deployment" && self.name.ends_with("-backend")
    }

    /// `kind/name` as Argo CD's messages name it (`apps/Deployment/x` for grouped kinds).
    pub fn reference(&self) -> String {
        if self.group.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.group, self.kind, self.name)
        }
    }

    /// Healthy once synced: Deployments take the wave's time to become available.
    pub fn starts_progressing(&self) -> bool {
        self.kind == "Deployment"
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "group": self.group, "version": self.version, "kind": self.kind,
            "namespace": self.namespace, "name": self.name,
            "status": self.sync, "syncWave": self.wave,
        });
        if let Some(h) = self.health {
            v["health"] = json!({"status": h});
            if let Some(m) = &self.message {
                v["health"]["message"] = json!(m);
            }
        }
        v
    }
}

const CONFIG_MAP: (&str, &str, &str) = ("", "v1", "ConfigMap");
const SERVICE: (&str, &str, &str) = ("", "v1", "Service");
const DEPLOYMENT: (&str, &str, &str) = ("apps", "v1", "Deployment");
const INGRESS: (&str, &str, &str) = ("networking.k8s.io", "v1", "Ingress");

/// The resources the environment chart renders for the Application's spec, in wave order.
pub fn render(spec: &Value) -> Vec<Resource> {
    let ns = spec
        .pointer("/destination/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let values = spec
        .pointer("/source/helm/valuesObject")
        .cloned()
        .unwrap_or(Value::Null);
    let release = spec
        .pointer("/source/helm/releaseName")
        .and_then(Value::as_str)
        .unwrap_or("app")
        .to_owned();
    let mut out = vec![Resource::new(
        CONFIG_MAP,
        ns,
        format!("{release}-config"),
        0,
    )];
    let redis = values
        .pointer("/redis/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if redis {
        out.push(Resource::new(DEPLOYMENT, ns, format!("{release}-redis"), 0));
        out.push(Resource::new(SERVICE, ns, format!("{release}-redis"), 0));
    }
    out.push(Resource::new(
        DEPLOYMENT,
        ns,
        format!("{release}-backend"),
        1,
    ));
    out.push(Resource::new(SERVICE, ns, format!("{release}-backend"), 1));
    let frontends: Vec<String> = match values.get("frontends").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|f| f.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        None => vec!["web".to_owned()],
    };
    for f in frontends {
        out.push(Resource::new(DEPLOYMENT, ns, format!("{release}-{f}"), 2));
        out.push(Resource::new(SERVICE, ns, format!("{release}-{f}"), 2));
    }
    out.push(Resource::new(INGRESS, ns, release, 3));
    out
}

/// The waves present, ascending.
pub fn waves(resources: &[Resource]) -> Vec<i64> {
    let mut w: Vec<i64> = resources.iter().map(|r| r.wave).collect();
    w.sort_unstable();
    w.dedup();
    w
}

/// The Application's health: the worst of its resources' (Argo CD's aggregation).
pub fn aggregate_health(resources: &[Resource]) -> (&'static str, Option<String>) {
    let rank = |h: &str| match h {
        "Degraded" => 4,
        "Missing" => 3,
        "Progressing" => 2,
        "Healthy" => 1,
        _ => 0,
    };
    let worst = resources
        .iter()
        .filter_map(|r| r.health.map(|h| (h, r)))
        .max_by_key(|(h, _)| rank(h));
    match worst {
        None => ("Healthy", None),
        Some(("Healthy", _)) => ("Healthy", None),
        Some((h, r)) => (h, r.message.clone()),
    }
}

/// `Synced` when every resource is.
pub fn aggregate_sync(resources: &[Resource]) -> &'static str {
    if resources.iter().all(|r| r.sync == "Synced") {
        "Synced"
    } else {
        "OutOfSync"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_renders_four_waves_with_one_frontend_by_default() {
        let spec = json!({"destination": {"namespace": "bb-demo"},
            "source": {"helm": {"releaseName": "demo", "valuesObject": {}}}});
        let r = render(&spec);
        let names: Vec<(i64, &str, &str)> = r
            .iter()
            .map(|r| (r.wave, r.kind, r.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (0, "ConfigMap", "demo-config"),
                (0, "Deployment", "demo-redis"),
                (0, "Service", "demo-redis"),
                (1, "Deployment", "demo-backend"),
                (1, "Service", "demo-backend"),
                (2, "Deployment", "demo-web"),
                (2, "Service", "demo-web"),
                (3, "Ingress", "demo"),
            ]
        );
        assert_eq!(waves(&r), [0, 1, 2, 3]);
        assert!(r.iter().all(|x| x.namespace == "bb-demo"));
    }

    #[test]
    fn frontends_and_redis_follow_the_values() {
        let spec = json!({"source": {"helm": {"releaseName": "x", "valuesObject": {
            "redis": {"enabled": false}, "frontends": [{"name": "shop"}, {"name": "admin"}]}}}});
        let names: Vec<String> = render(&spec).into_iter().map(|r| r.name).collect();
        assert!(!names.contains(&"x-redis".to_owned()));
        assert!(names.contains(&"x-shop".to_owned()) && names.contains(&"x-admin".to_owned()));
    }

    #[test]
    fn the_worst_health_wins_and_carries_its_message() {
        let spec = json!({"source": {"helm": {"releaseName": "x"}}});
        let mut r = render(&spec);
        assert_eq!(aggregate_health(&r).0, "Missing");
        for x in &mut r {
            x.health = x.health.map(|_| "Healthy");
            x.sync = "Synced";
        }
        assert_eq!(aggregate_health(&r), ("Healthy", None));
        assert_eq!(aggregate_sync(&r), "Synced");
        let backend = r.iter_mut().find(|x| x.is_backend()).unwrap();
        backend.health = Some("Degraded");
        backend.message = Some("boom".into());
        assert_eq!(aggregate_health(&r), ("Degraded", Some("boom".into())));
        assert_eq!(
            r.iter().find(|x| x.is_backend()).unwrap().reference(),
            "apps/Deployment/x-backend"
        );
    }
}
