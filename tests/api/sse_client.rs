//! A minimal Server-Sent Events reader for the tests.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

/// A minimal Server-Sent Events reader.
pub struct SseClient {
    response: Response,
    buffer: String,
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

impl SseClient {
    pub async fn connect(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Self {
        Self::connect_to(&app.client, &app.url, query, last_event_id).await
    }

    pub async fn connect_to(
        client: &reqwest::Client,
        base: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Self {
        let mut req = client.get(format!("{base}/api/events/environments{query}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or None if none comes within `within` or the stream broke.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.is_empty() {
                    continue; // keep-alive comment
                }
                return Some(SseEvent {
                    event,
                    id,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.ok()??));
        }
    }
}
