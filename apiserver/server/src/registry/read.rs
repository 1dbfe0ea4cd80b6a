//! Reads: `GET` and the list scans. Every read of the store (and the decoding of what it
//! returns) runs on tokio's blocking pool, never on an async worker.

use std::sync::Arc;

use bytes::Bytes;
use eddy_storage::{Key, KvEngine, ListOptions, Object, Revision};
use serde_json::Value;

use super::{JsonPage, LIST_PAGE, ListPage, Page, Registry, ServedResource, blocking};
use crate::selector::Selectors;
use crate::status::ApiError;
use crate::storage_codec;

impl<E: KvEngine> Registry<E> {
    /// `GET` one object (read on the blocking pool).
    ///
    /// # Errors
    /// 404 when missing.
    pub async fn get(&self, res: &ServedResource, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let (this, res, key) = (self.clone(), res.clone(), res.key(namespace, name));
        blocking(move || {
            let obj = this.store.get(&key).map_err(|e| ApiError::from_storage(&e, res.target(&key.name)))?;
            this.decode(&res, &obj)
        })
        .await
    }

    /// `GET` one object as JSON in the requested version (the stored bytes with
    /// `resourceVersion` spliced in when no conversion or new default applies), read on the
    /// blocking pool.
    ///
    /// # Errors
    /// 404 when missing.
    pub async fn get_json(&self, res: &ServedResource, namespace: &str, name: &str) -> Result<Bytes, ApiError> {
        let (this, res, key) = (self.clone(), res.clone(), res.key(namespace, name));
        blocking(move || {
            let obj = this.store.get(&key).map_err(|e| ApiError::from_storage(&e, res.target(&key.name)))?;
            storage_codec::to_json(&res, &obj.value, obj.mod_revision)
        })
        .await
    }

    /// The stored object at `key` (`None` when missing), read on the blocking pool: the read
    /// half of every write.
    pub(super) async fn current(&self, res: &ServedResource, key: &Key) -> Result<Option<Object>, ApiError> {
        let (store, res, key) = (self.store.clone(), res.clone(), key.clone());
        blocking(move || match store.get(&key) {
            Ok(o) => Ok(Some(o)),
            Err(eddy_storage::Error::NotFound) => Ok(None),
            Err(e) => Err(ApiError::from_storage(&e, res.target(&key.name))),
        })
        .await
    }

    /// One list page as of `revision` (newest when `None`), after `start_after`: the objects
    /// `keep` accepts, decoded. The scan and the decoding run on the blocking pool.
    ///
    /// # Errors
    /// 410 when `revision` is compacted, 504 when it is in the future.
    pub async fn list(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        keep: impl FnMut(&Value) -> bool + Send + 'static,
    ) -> Result<ListPage, ApiError> {
        let (this, res, namespace) = (self.clone(), res.clone(), namespace.map(str::to_owned));
        blocking(move || this.list_blocking(&res, namespace.as_deref(), revision, start_after, limit, keep)).await
    }

    pub(super) fn list_blocking(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<ListPage, ApiError> {
        let (items, revision, next) = self.list_with(res, namespace, revision, start_after, limit, |obj| {
            let v = self.decode(res, obj)?;
            Ok(keep(&v).then_some(v))
        })?;
        Ok(ListPage { items, revision, next })
    }

    /// [`Registry::list`] without a limit, read [`LIST_PAGE`] objects at a time at one revision
    /// (`revision`, or the current one): each object `keep` accepts is turned into what the
    /// caller renders of it by `map` as soon as its page is decoded, so that no more than a page
    /// of decoded objects is held at once (a metadata-only list or watch of 100,000 objects
    /// keeps only what it renders of each). The whole scan runs on the blocking pool. Returns
    /// the rendered items and the revision.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn list_paged<T: Send + 'static>(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        mut keep: impl FnMut(&Value) -> bool + Send + 'static,
        mut map: impl FnMut(Value) -> T + Send + 'static,
    ) -> Result<(Vec<T>, Revision), ApiError> {
        let (this, res, namespace) = (self.clone(), res.clone(), namespace.map(str::to_owned));
        blocking(move || {
            let mut out = Vec::new();
            let mut revision = revision;
            let mut start_after = None;
            loop {
                let page =
                    this.list_blocking(&res, namespace.as_deref(), revision, start_after, Some(LIST_PAGE), &mut keep)?;
                revision = Some(page.revision);
                start_after = page.next;
                out.extend(page.items.into_iter().map(&mut map));
                if start_after.is_none() {
                    return Ok((out, page.revision));
                }
            }
        })
        .await
    }

    /// [`Registry::list`] with every item as JSON in the requested version, filtered by
    /// `selectors` on the stored bytes: a full list of objects stored in the requested
    /// version is a copy of their bytes (see [`storage_codec`]). Runs on the blocking pool.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn list_json(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        selectors: &Arc<Selectors>,
    ) -> Result<JsonPage, ApiError> {
        let (this, res, namespace, selectors) =
            (self.clone(), res.clone(), namespace.map(str::to_owned), Arc::clone(selectors));
        blocking(move || {
            let (items, revision, next) =
                this.list_with(&res, namespace.as_deref(), revision, start_after, limit, |obj| {
                    if !selectors.matches_stored(obj)? {
                        return Ok(None);
                    }
                    storage_codec::to_json(&res, &obj.value, obj.mod_revision).map(Some)
                })?;
            Ok(JsonPage { items, revision, next })
        })
        .await
    }

    /// Reads pages from the store until `limit` items are kept (filtering happens after the
    /// store's page, as kube-apiserver does over etcd) or nothing is left.
    pub(super) fn list_with<T>(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        revision: Option<Revision>,
        start_after: Option<(String, String)>,
        limit: Option<usize>,
        mut item: impl FnMut(&Object) -> Result<Option<T>, ApiError>,
    ) -> Result<Page<T>, ApiError> {
        let mut items = Vec::new();
        let mut options = ListOptions { revision, start_after, limit };
        loop {
            let page = self
                .store
                .list(&res.prefix(namespace), &options)
                .map_err(|e| ApiError::from_storage(&e, res.target("")))?;
            let last = page.objects.last().map(|o| (o.namespace.clone(), o.name.clone()));
            for obj in &page.objects {
                if let Some(v) = item(obj)? {
                    items.push(v);
                }
                if limit.is_some_and(|l| items.len() >= l) {
                    let next_key = (obj.namespace.clone(), obj.name.clone());
                    let more_here =
                        page.objects.last().is_some_and(|o| (&o.namespace, &o.name) != (&next_key.0, &next_key.1));
                    let next = (more_here || page.more).then_some(next_key);
                    return Ok((items, page.revision, next));
                }
            }
            match (page.more, last) {
                (true, Some(last)) => {
                    options.revision = Some(page.revision);
                    options.start_after = Some(last);
                }
                _ => return Ok((items, page.revision, None)),
            }
        }
    }
}
