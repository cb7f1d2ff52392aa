//! Repositories and config sets on Firestore (audit entries, deliveries and tokens: `records.rs`).

use firestore::{FirestoreDb, FirestoreValue, errors::FirestoreError};
use futures::FutureExt;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{
    CONFIG_SETS, ENVIRONMENTS, REPOSITORIES, corrupt, environments::EnvDoc, fs_err, permanent,
    read, transaction,
};
use crate::{
    domain::{ConfigSet, Repository},
    ports::store::{StoreError, StoreResult},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RepoDoc {
    id: String,
    name: String,
    gitlab_project_id: i64,
    config_set_id: Option<String>,
    doc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SetDoc {
    id: String,
    name: String,
    doc: String,
}

/// Any catalog document: the record is in `doc`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct JsonDoc {
    pub(super) doc: String,
}

fn repo_doc(r: &Repository) -> StoreResult<RepoDoc> {
    Ok(RepoDoc {
        id: r.id.clone(),
        name: r.name.to_string(),
        gitlab_project_id: r.gitlab_project_id as i64,
        config_set_id: r.config_set_id.clone(),
        doc: serde_json::to_string(r).map_err(corrupt)?,
    })
}

pub async fn get_doc<T: DeserializeOwned>(
    db: &FirestoreDb,
    collection: &str,
    id: &str,
) -> StoreResult<Option<T>> {
    let doc: Option<JsonDoc> = read(db, collection, id).await.map_err(fs_err)?;
    doc.map(|d| serde_json::from_str(&d.doc).map_err(corrupt))
        .transpose()
}

pub async fn list_docs<T: DeserializeOwned>(
    db: &FirestoreDb,
    collection: &str,
) -> StoreResult<Vec<T>> {
    let docs: Vec<JsonDoc> = db
        .fluent()
        .select()
        .from(collection)
        .order(|o| o.fields([o.field("name").asc()]))
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.iter()
        .map(|d| serde_json::from_str(&d.doc).map_err(corrupt))
        .collect()
}

pub async fn find_repository_by_project(
    db: &FirestoreDb,
    project_id: u64,
) -> StoreResult<Option<Repository>> {
    find_by(db, REPOSITORIES, "gitlab_project_id", project_id as i64).await
}

/// The first record of `collection` whose `field` equals `value`.
pub async fn find_by<T: DeserializeOwned>(
    db: &FirestoreDb,
    collection: &str,
    field: &str,
    value: impl Into<FirestoreValue>,
) -> StoreResult<Option<T>> {
    let value: FirestoreValue = value.into();
    let docs: Vec<JsonDoc> = db
        .fluent()
        .select()
        .from(collection)
        .filter(|q| q.for_all([q.field(field).eq(value.clone())]))
        .limit(1)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.first()
        .map(|d| serde_json::from_str(&d.doc).map_err(corrupt))
        .transpose()
}

/// Writes a repository if no other one has its name or GitLab project (`create`: none may exist
/// with its id either).
/// A catalog document whose id, and some of whose fields, are unique in its collection.
trait UniqueDoc: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    fn id(&self) -> &str;
}

impl UniqueDoc for RepoDoc {
    fn id(&self) -> &str {
        &self.id
    }
}

impl UniqueDoc for SetDoc {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What must be unique about a document, and what to say when another one has it.
struct Uniqueness {
    collection: &'static str,
    /// "repository", "config set"
    what: &'static str,
    fields: Vec<(&'static str, FirestoreValue)>,
    clash: String,
}

/// Creates (`create`) or replaces a document in one transaction: the id must be new (or
/// exist), and no other document may share any of the unique fields.
async fn put_unique<D: UniqueDoc>(
    db: &FirestoreDb,
    doc: D,
    unique: Uniqueness,
    create: bool,
) -> StoreResult<()> {
    let unique = std::sync::Arc::new(unique);
    transaction(db, |db, tx| {
        let (doc, unique) = (doc.clone(), unique.clone());
        async move {
            let id = doc.id().to_owned();
            let existing: Option<D> = read(&db, unique.collection, &id).await?;
            let what = unique.what;
            match (create, existing.is_some()) {
                (true, true) => {
                    return Err(permanent(
                        tx,
                        StoreError::Conflict(format!("{what} `{id}` already exists")),
                    ));
                }
                (false, false) => {
                    return Err(permanent(
                        tx,
                        StoreError::NotFound(format!("{what} `{id}`")),
                    ));
                }
                _ => {}
            }
            let clashes: Vec<D> = db
                .fluent()
                .select()
                .from(unique.collection)
                .filter(|q| {
                    q.for_any(
                        unique
                            .fields
                            .iter()
                            .map(|(field, value)| q.field(*field).eq(value.clone())),
                    )
                })
                .obj()
                .query()
                .await?;
            if clashes.iter().any(|c| c.id() != id) {
                return Err(permanent(tx, StoreError::Conflict(unique.clash.clone())));
            }
            db.fluent()
                .update()
                .in_col(unique.collection)
                .document_id(&id)
                .object(&doc)
                .add_to_transaction(tx)?;
            Ok(())
        }
        .boxed()
    })
    .await
}

async fn put_repository(db: &FirestoreDb, repo: &Repository, create: bool) -> StoreResult<()> {
    let doc = repo_doc(repo)?;
    let unique = Uniqueness {
        collection: REPOSITORIES,
        what: "repository",
        fields: vec![
            ("name", doc.name.clone().into()),
            ("gitlab_project_id", doc.gitlab_project_id.into()),
        ],
        clash: format!(
            "a repository named `{}` or for GitLab project {} is already connected",
            doc.name, doc.gitlab_project_id
        ),
    };
    put_unique(db, doc, unique, create).await
}

pub async fn create_repository(db: &FirestoreDb, repo: &Repository) -> StoreResult<()> {
    put_repository(db, repo, true).await
}

pub async fn update_repository(db: &FirestoreDb, repo: &Repository) -> StoreResult<()> {
    put_repository(db, repo, false).await
}

async fn live_environments(
    db: &FirestoreDb,
    field: &str,
    value: &str,
) -> Result<usize, FirestoreError> {
    let docs: Vec<EnvDoc> = db
        .fluent()
        .select()
        .from(ENVIRONMENTS)
        .filter(|q| q.for_all([q.field(field).eq(value.to_owned())]))
        .obj()
        .query()
        .await?;
    Ok(docs.iter().filter(|d| d.status != "terminated").count())
}

pub async fn delete_repository(db: &FirestoreDb, id: &str) -> StoreResult<()> {
    transaction(db, |db, tx| {
        let id = id.to_owned();
        async move {
            let existing: Option<RepoDoc> = read(&db, REPOSITORIES, &id).await?;
            if existing.is_none() {
                return Err(permanent(
                    tx,
                    StoreError::NotFound(format!("repository `{id}`")),
                ));
            }
            let live = live_environments(&db, "repository_id", &id).await?;
            if live > 0 {
                return Err(permanent(
                    tx,
                    StoreError::Conflict(format!(
                        "repository `{id}` still has {live} live environment(s); destroy them first"
                    )),
                ));
            }
            db.fluent()
                .delete()
                .from(REPOSITORIES)
                .document_id(&id)
                .add_to_transaction(tx)?;
            Ok(())
        }
        .boxed()
    })
    .await
}

async fn put_config_set(db: &FirestoreDb, set: &ConfigSet, create: bool) -> StoreResult<()> {
    let doc = SetDoc {
        id: set.id.clone(),
        name: set.name.clone(),
        doc: serde_json::to_string(set).map_err(corrupt)?,
    };
    let unique = Uniqueness {
        collection: CONFIG_SETS,
        what: "config set",
        fields: vec![("name", doc.name.clone().into())],
        clash: format!("a config set named `{}` already exists", doc.name),
    };
    put_unique(db, doc, unique, create).await
}

pub async fn create_config_set(db: &FirestoreDb, set: &ConfigSet) -> StoreResult<()> {
    put_config_set(db, set, true).await
}

pub async fn update_config_set(db: &FirestoreDb, set: &ConfigSet) -> StoreResult<()> {
    put_config_set(db, set, false).await
}

pub async fn delete_config_set(db: &FirestoreDb, id: &str) -> StoreResult<()> {
    transaction(db, |db, tx| {
        let id = id.to_owned();
        async move {
            let existing: Option<SetDoc> = read(&db, CONFIG_SETS, &id).await?;
            if existing.is_none() {
                return Err(permanent(tx, StoreError::NotFound(format!("config set `{id}`"))));
            }
            let repos: Vec<RepoDoc> = db
                .fluent()
                .select()
                .from(REPOSITORIES)
                .filter(|q| q.for_all([q.field("config_set_id").eq(id.clone())]))
                .obj()
                .query()
                .await?;
            let users = repos.len() + live_environments(&db, "config_set_id", &id).await?;
            if users > 0 {
                return Err(permanent(tx, StoreError::Conflict(format!("config set `{id}` is used by {users} repository(ies) or live environment(s)"))));
            }
            db.fluent().delete().from(CONFIG_SETS).document_id(&id).add_to_transaction(tx)?;
            Ok(())
        }
        .boxed()
    }).await
}
