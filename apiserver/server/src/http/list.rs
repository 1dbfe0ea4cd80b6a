//! Collections: list bodies and metadata, streamed lists and watches (the revision each
//! starts at is the registry's rule: [`crate::registry::rules`]).

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::registry::rules::{self, WatchStart};

pub(super) fn list_body(res: &ServedResource, page: &ListPage) -> Value {
    json!({
        "apiVersion": res.api_version(),
        "kind": res.info().list_kind,
        "metadata": list_meta(page),
        "items": page.items,
    })
}

pub(super) fn list_meta(page: &ListPage) -> Value {
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some((ns, name)) = &page.next {
        meta["continue"] =
            json!(Continue { revision: page.revision, namespace: ns.clone(), name: name.clone() }.encode());
    }
    meta
}

pub(super) async fn list_or_watch<E: KvEngine>(
    shared: &HttpState<E>,
    res: &ServedResource,
    namespace: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
    loopback: bool,
) -> Result<Response, ApiError> {
    let (format, encoding) = negotiate_objects(headers)?;
    let selectors = Selectors { labels: query.label_selector()?, fields: query.field_selector()? };
    if query.flag("watch") {
        if encoding == Encoding::Yaml {
            return Err(ApiError::not_acceptable("watch streams are served as application/json only"));
        }
        return watch(shared, res, namespace, query, format, selectors, loopback).await;
    }
    let selectors = Arc::new(selectors);
    let limit = query.limit()?;
    let cont = query.get("continue").filter(|c| !c.is_empty()).map(Continue::decode).transpose()?;
    let current = shared.registry.store().current_revision();
    let revision = rules::list_revision(
        current,
        query.get("resourceVersion"),
        query.get("resourceVersionMatch"),
        limit,
        cont.as_ref().map(|c| c.revision),
    )?;
    let json_objects = matches!(format, ObjectFormat::Object) && encoding == Encoding::Json;
    if limit.is_none() && json_objects {
        return streamed_list(shared, res, namespace, revision, selectors).await;
    }
    let start_after = cont.as_ref().map(|c| (c.namespace.clone(), c.name.clone()));
    let expired = |e: ApiError| {
        if e.code == 410 && cont.is_some() {
            ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            )
        } else {
            e
        }
    };
    if json_objects {
        let page = shared
            .registry
            .list_json(res, namespace, revision, start_after, limit, &selectors)
            .await
            .map_err(expired)?;
        let mut body = list_head(res, page.revision, page.next.as_ref());
        encode_items(&mut body, &page.items, &mut true);
        body.extend_from_slice(b"]}");
        return Ok(bytes_response(StatusCode::OK, Bytes::from(body), "application/json"));
    }
    if let (None, ObjectFormat::PartialMetadata(v)) = (limit, format) {
        // Read a page at a time, keeping only metadata: the garbage collector and the namespace
        // controller list every resource this way.
        let (items, revision) =
            shared.registry.list_paged(res, namespace, revision, move |o| selectors.matches(o), metadata_only).await?;
        let body = partial_metadata_list(&items, json!({"resourceVersion": revision.to_string()}), v);
        return Ok(object_response(StatusCode::OK, &body, encoding));
    }
    let page = shared
        .registry
        .list(res, namespace, revision, start_after, limit, move |o| selectors.matches(o))
        .await
        .map_err(expired)?;
    let body = match format {
        ObjectFormat::Object => list_body(res, &page),
        ObjectFormat::PartialMetadata(v) => partial_metadata_list(&page.items, list_meta(&page), v),
        ObjectFormat::Table(v) => table(res, &page.items, list_meta(&page), v, query.include_object()?),
    };
    Ok(object_response(StatusCode::OK, &body, encoding))
}

/// `obj` with nothing but its metadata (what a PartialObjectMetadata keeps of it).
pub(super) fn metadata_only(mut obj: Value) -> Value {
    json!({"metadata": obj.get_mut("metadata").map(Value::take).unwrap_or_else(|| json!({}))})
}

/// Objects read and encoded at a time by a streamed list.
pub(super) const STREAM_PAGE: usize = 500;

/// A complete JSON list (no `limit`) written as it is read: pages of [`STREAM_PAGE`] objects,
/// all at the first page's revision, so the answer is one consistent snapshot — the same bytes
/// as a materialised list — while the server never holds more than one page of objects.
/// Errors found before the first byte (410, 504, bad selectors) are ordinary error answers; an
/// error after that (the revision compacted away during a very long read) cuts the body short,
/// which clients report as a failed list.
pub(super) async fn streamed_list<E: KvEngine>(
    shared: &HttpState<E>,
    res: &ServedResource,
    namespace: Option<&str>,
    revision: Option<u64>,
    selectors: Arc<Selectors>,
) -> Result<Response, ApiError> {
    struct State<E: KvEngine> {
        registry: Registry<E>,
        res: ServedResource,
        namespace: Option<String>,
        revision: u64,
        next: Option<(String, String)>,
        selectors: Arc<Selectors>,
        done: bool,
    }
    let registry = shared.registry.clone();
    let page = registry.list_json(res, namespace, revision, None, Some(STREAM_PAGE), &selectors).await?;
    let mut head = list_head(res, page.revision, None);
    let mut first = true;
    encode_items(&mut head, &page.items, &mut first);
    if page.next.is_none() {
        head.extend_from_slice(b"]}");
    }
    let state = State {
        registry,
        res: res.clone(),
        namespace: namespace.map(str::to_owned),
        revision: page.revision,
        done: page.next.is_none(),
        next: page.next,
        selectors,
    };
    let head = futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) });
    let rest = futures_util::stream::unfold((state, first), |(mut st, mut first)| async move {
        if st.done {
            return None;
        }
        let page = st
            .registry
            .list_json(
                &st.res,
                st.namespace.as_deref(),
                Some(st.revision),
                st.next.take(),
                Some(STREAM_PAGE),
                &st.selectors,
            )
            .await;
        match page {
            Ok(page) => {
                let mut out = Vec::with_capacity(page.items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
                encode_items(&mut out, &page.items, &mut first);
                st.done = page.next.is_none();
                st.next = page.next;
                if st.done {
                    out.extend_from_slice(b"]}");
                }
                Some((Ok(Bytes::from(out)), (st, first)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "a streamed list failed after its first page");
                st.done = true;
                Some((Err(std::io::Error::other(e.to_string())), (st, first)))
            }
        }
    });
    let body = futures_util::StreamExt::chain(head, rest);
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

/// A JSON list up to the opening bracket of its items.
pub(super) fn list_head(res: &ServedResource, revision: u64, next: Option<&(String, String)>) -> Vec<u8> {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some((ns, name)) = next {
        meta["continue"] = json!(Continue { revision, namespace: ns.clone(), name: name.clone() }.encode());
    }
    let mut head = json!({"apiVersion": res.api_version(), "kind": res.info().list_kind, "metadata": meta})
        .to_string()
        .into_bytes();
    head.pop(); // the closing brace: the items follow
    head.extend_from_slice(b",\"items\":[");
    head
}

/// Appends JSON items, comma-separated (`first` tells whether one was written before).
pub(super) fn encode_items(out: &mut Vec<u8>, items: &[Bytes], first: &mut bool) {
    for item in items {
        if !std::mem::take(first) {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
}

pub(super) async fn watch<E: KvEngine>(
    shared: &HttpState<E>,
    res: &ServedResource,
    namespace: Option<&str>,
    query: &Query,
    format: ObjectFormat,
    selectors: Selectors,
    loopback: bool,
) -> Result<Response, ApiError> {
    let timeout = query.watch_timeout(shared.options.default_watch_timeout)?;
    let now = tokio::time::Instant::now();
    let permit = match &shared.watches {
        Some(watches) if !loopback => Some(Arc::clone(watches).try_acquire_owned().map_err(|_| ApiError {
            message: format!(
                "too many open watches (the limit is {}); please try again later",
                shared.options.max_watches
            ),
            ..crate::limits::too_many_requests()
        })?),
        _ => None,
    };
    let spec = WatchSpec {
        resource: res.clone(),
        selectors,
        format,
        include: query.include_object()?,
        bookmarks: query.flag("allowWatchBookmarks"),
        bookmark_interval: shared.options.bookmark_interval,
        // Where the platform's clock cannot reach that far, a year (a client reconnects).
        deadline: now
            .checked_add(timeout)
            .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
            .unwrap_or(now),
    };
    let store = shared.registry.store();
    let start = rules::watch_start(
        store.current_revision(),
        query.get("resourceVersion"),
        query.get("resourceVersionMatch"),
        query.get("sendInitialEvents"),
    )?;
    let mut pending = Vec::new();
    let from = match start {
        WatchStart::After(revision) => revision,
        WatchStart::Initial { bookmark } => {
            let revision = if matches!(spec.format, ObjectFormat::Object) {
                let selectors = Arc::new(spec.selectors.clone());
                let page = shared.registry.list_json(res, namespace, None, None, None, &selectors).await?;
                pending.extend(page.items.iter().map(|obj| watch::event_line("ADDED", obj)));
                page.revision
            } else {
                // A page at a time: only the rendered lines (metadata or table rows) are kept.
                let (keep, render) = (spec.clone(), spec.clone());
                let (lines, revision) = shared
                    .registry
                    .list_paged(
                        res,
                        namespace,
                        None,
                        move |o| keep.matches(o),
                        move |obj| WatchStream::<E>::added(&render, &obj),
                    )
                    .await?;
                pending.extend(lines);
                revision
            };
            if bookmark {
                pending.push(WatchStream::<E>::initial_events_end(&spec, revision));
            }
            revision
        }
    };
    let watcher = match store.watch(&res.prefix(namespace), from) {
        Ok(w) => Some(w),
        Err(eddy_storage::Error::Compacted { requested, compacted }) => {
            pending
                .push(error_line(&ApiError::expired(format!("too old resource version: {requested} ({compacted})"))));
            None
        }
        Err(e) => return Err(ApiError::from_storage(&e, res.target(""))),
    };
    let stream = WatchStream::new(spec, watcher, pending);
    // The watch slot is held by the stream: freed when the watch ends or its client leaves.
    let body = futures_util::stream::unfold((stream, permit), |(mut s, permit)| async move {
        s.next_chunk().await.map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), (s, permit)))
    });
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}
