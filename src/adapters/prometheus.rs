//! [`Traffic`] from Prometheus: ingress-nginx's `nginx_ingress_controller_requests` counter,
//! summed by host over the window, through the HTTP API's instant query.

use std::time::Duration;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use serde::Deserialize;

use crate::ports::traffic::Traffic;

pub struct Prometheus {
    http: reqwest::Client,
    url: String,
    base_domain: String,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    metric: std::collections::HashMap<String, String>,
    /// `[unix time, "value"]`.
    value: (f64, String),
}

impl Prometheus {
    /// Prometheus at `url` (e.g. `http://prometheus.monitoring:9090`), for hosts under
    /// `base_domain`.
    pub fn new(url: &str, base_domain: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: url.trim_end_matches('/').to_owned(),
            base_domain: base_domain.to_owned(),
        })
    }

    /// The PromQL: requests per host under the base domain, over the window.
    pub fn query(&self, window: Duration) -> String {
        let domain = regex_escape(&self.base_domain);
        format!(
            r#"sum by (host) (increase(nginx_ingress_controller_requests{{host=~".+\\.{domain}"}}[{}s]))"#,
            window.as_secs().max(60)
        )
    }
}

/// `preview.example.com` as a PromQL regular expression in a double-quoted string.
fn regex_escape(s: &str) -> String {
    s.replace('.', r"\\.")
}

#[async_trait]
impl Traffic for Prometheus {
    async fn busy_hosts(&self, window: Duration) -> anyhow::Result<Vec<String>> {
        let response = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", self.query(window))])
            .send()
            .await
            .context("Prometheus cannot be reached")?;
        let status = response.status();
        let answer: Answer = response
            .json()
            .await
            .with_context(|| format!("Prometheus answered {status} with no query result"))?;
        if answer.status != "success" {
            bail!(
                "Prometheus refused the query: {}",
                answer.error.unwrap_or_default()
            );
        }
        Ok(answer
            .data
            .map(|d| d.result)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.value.1.parse::<f64>().is_ok_and(|n| n > 0.0))
            .filter_map(|mut s| s.metric.remove("host"))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_sums_requests_by_host_under_the_base_domain() {
        let p = Prometheus::new("http://prom:9090/", "preview.example.com").unwrap();
        assert_eq!(p.url, "http://prom:9090");
        assert_eq!(
            p.query(Duration::from_secs(120)),
            r#"sum by (host) (increase(nginx_ingress_controller_requests{host=~".+\\.preview\\.example\\.com"}[120s]))"#
        );
    }
}
