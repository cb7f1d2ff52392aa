//! How `blueberry env` prints: aligned tables for people, or the API's JSON as it answered.

use clap::ValueEnum;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// The API's JSON, as it answered.
    Json,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Rows as aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

pub fn print_list(page: &Value, out: Output) {
    if out == Output::Json {
        println!("{page}");
        return;
    }
    let rows: Vec<Vec<String>> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                text(&e["id"]),
                text(&e["status"]),
                text(&e["git"]["branch"]),
                text(&e["expires_at"]),
            ]
        })
        .collect();
    println!("{}", table(&["ID", "STATUS", "BRANCH", "EXPIRES"], &rows));
}

pub fn print_one(env: &Value, out: Output) {
    if out == Output::Json {
        println!("{env}");
        return;
    }
    let rows = vec![
        vec!["id".into(), text(&env["id"])],
        vec!["status".into(), text(&env["status"])],
        vec!["message".into(), text(&env["status_message"])],
        vec!["url".into(), text(&env["urls"][0])],
        vec!["branch".into(), text(&env["git"]["branch"])],
        vec!["attempt".into(), text(&env["attempt"])],
        vec!["expires".into(), text(&env["expires_at"])],
    ];
    println!("{}", table(&["FIELD", "VALUE"], &rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let t = table(
            &["ID", "STATUS"],
            &[
                vec!["demo-shop".into(), "ready".into()],
                vec!["x".into(), "pending".into()],
            ],
        );
        assert_eq!(t, "ID         STATUS\ndemo-shop  ready\nx          pending");
    }
}
