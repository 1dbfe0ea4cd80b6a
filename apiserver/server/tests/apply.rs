//! Server-side apply and `managedFields` over HTTP (in-memory store): create-on-apply, no-op
//! re-applies, conflicts and `force`, removal of fields a manager stops applying, status applies,
//! dry runs, `Update` managers of the other writes, resets, preconditions, version skew, and
//! YAML request bodies and answers.

mod support;

use std::sync::Arc;

use axum::http::Method;
use eddy_apiserver::HttpOptions;
use eddy_apiserver::namespace_lifecycle::{BoxFuture, NamespaceLifecycle, namespace_not_found};
use eddy_apiserver::status::{ApiError, Target};
use serde_json::{Value, json};
use support::{Answer, Api, GIT, git};

const APPLY: &str = "application/apply-patch+yaml";

async fn apply(api: &Api, path: &str, query: &str, body: &str) -> Answer {
    let uri = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    api.send(api.request(Method::PATCH, &uri, &[("content-type", APPLY)], Some(body.as_bytes().to_vec()))).await
}

/// A GitRepository apply configuration named `app` with the given `spec` lines (YAML, indented
/// by four spaces).
fn config(spec: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\n\
         spec:\n{spec}"
    )
}

fn managed(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default()
}

/// The entry of `manager` (and `operation`), without its time.
fn entry(obj: &Value, manager: &str, operation: &str) -> Option<Value> {
    managed(obj).into_iter().find(|e| e["manager"] == manager && e["operation"] == operation).map(|mut e| {
        if let Some(m) = e.as_object_mut() {
            m.remove("time");
        }
        e
    })
}

fn app_path() -> String {
    format!("{GIT}/app")
}

#[tokio::test]
async fn apply_creates_and_a_reapply_changes_nothing() {
    let api = Api::new();
    let path = app_path();
    let body = config("    url: https://github.com/org/app\n    interval: 5m\n");

    // fieldManager is required: kube-apiserver's 422 about PatchOptions.
    let refused = apply(&api, &path, "", &body).await.expect(422);
    assert_eq!(
        refused.body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            "reason": "Invalid",
            "details": {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}
            ]},
            "code": 422
        })
    );
    // force belongs to apply only.
    let forced = api
        .call(
            Method::PATCH,
            &format!("{path}?force=true"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({})),
        )
        .await
        .expect(422);
    assert_eq!(forced.body["details"]["causes"][0]["field"], "force");
    api.get(&path).await.expect(404);

    let created = apply(&api, &path, "fieldManager=alice", &body).await.expect(201).body;
    assert_eq!(created["spec"]["url"], "https://github.com/org/app");
    assert_eq!(created["spec"]["timeout"], "60s", "defaults apply after the merge");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(created["metadata"]["creationTimestamp"].is_string());
    let mf = managed(&created);
    assert_eq!(mf.len(), 1, "{mf:?}");
    assert!(mf[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{mf:?}");
    assert_eq!(
        entry(&created, "alice", "Apply"),
        Some(json!({
            "manager": "alice", "operation": "Apply", "apiVersion": "source.toolkit.fluxcd.io/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:interval": {}, "f:url": {}}}
        })),
        "the applier owns what it applied, not the defaults"
    );
    assert_eq!(api.get(&path).await.expect(200).body, created);

    // The same configuration again: 200, nothing written.
    let again = apply(&api, &path, "fieldManager=alice", &body).await.expect(200).body;
    assert_eq!(again, created);
    assert_eq!(again["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    // JSON is YAML: the same configuration as JSON is the same no-op.
    let as_json = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": "flux-system"},
        "spec": {"url": "https://github.com/org/app", "interval": "5m"}
    });
    let again = apply(&api, &path, "fieldManager=alice", &as_json.to_string()).await.expect(200).body;
    assert_eq!(again["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

    // A configuration of another version than the URL's, or of another name, is refused.
    let wrong = body.replace("source.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1beta2");
    let a = apply(&api, &path, "fieldManager=alice", &wrong).await.expect(400);
    assert_eq!(a.body["message"], "invalid object type: source.toolkit.fluxcd.io/v1beta2, Kind=GitRepository");
    let a = apply(&api, &format!("{GIT}/other"), "fieldManager=alice", &body).await.expect(400);
    assert_eq!(a.body["message"], "the name of the object (app) does not match the name on the URL (other)");
    // Fields the schema does not declare: kube's plain 500 (no reason).
    let unknown = config("    url: https://github.com/org/app\n    bogus: 1\n");
    let a = apply(&api, &path, "fieldManager=alice", &unknown).await.expect(500);
    assert!(a.body.get("reason").is_none(), "{}", a.body);
    assert!(
        a.body["message"].as_str().is_some_and(|m| m.contains(".spec.bogus: field not declared in schema")),
        "{}",
        a.body
    );
    // Invalid results are 422 like any write.
    let a =
        apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: often\n"))
            .await;
    assert_eq!(a.expect(422).body["reason"], "Invalid");
    // CBOR apply bodies are not implemented: 415 listing what is.
    let cbor = api.request(
        Method::PATCH,
        &format!("{path}?fieldManager=a"),
        &[("content-type", "application/apply-patch+cbor")],
        Some(vec![0xa0]),
    );
    let a = api.send(cbor).await.expect(415);
    assert_eq!(
        a.body["message"],
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[tokio::test]
async fn conflicts_are_409_and_force_takes_ownership() {
    let api = Api::new();
    let path = app_path();
    apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
        .await
        .expect(201);
    // Same value: shared ownership, no conflict.
    let shared = apply(&api, &path, "fieldManager=carol", &config("    url: https://github.com/org/app\n")).await;
    let shared = shared.expect(200).body;
    assert_eq!(entry(&shared, "carol", "Apply").map(|e| e["fieldsV1"].clone()), Some(json!({"f:spec": {"f:url": {}}})));

    let bob = config("    interval: 10m\n    url: https://example.com/other\n");
    let conflict = apply(&api, &path, "fieldManager=bob", &bob).await.expect(409);
    assert_eq!(
        conflict.body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 3 conflicts: conflicts with \"alice\":\n- .spec.interval\n- .spec.url\nconflicts with \"carol\":\n- .spec.url",
            "reason": "Conflict",
            "details": {"causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"alice\"", "field": ".spec.interval"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"alice\"", "field": ".spec.url"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"carol\"", "field": ".spec.url"}
            ]},
            "code": 409
        })
    );
    let one = apply(&api, &path, "fieldManager=bob", &config("    interval: 10m\n")).await.expect(409);
    assert_eq!(one.body["message"], "Apply failed with 1 conflict: conflict with \"alice\": .spec.interval");
    // Nothing was written.
    let before = api.get(&path).await.expect(200).body;
    assert_eq!(before["spec"]["interval"], "5m");

    // force: bob takes the field, alice keeps the rest.
    let forced =
        apply(&api, &path, "fieldManager=bob&force=true", &config("    interval: 10m\n")).await.expect(200).body;
    assert_eq!(forced["spec"]["interval"], "10m");
    assert_eq!(forced["metadata"]["generation"], 2);
    assert_eq!(entry(&forced, "alice", "Apply").map(|e| e["fieldsV1"].clone()), Some(json!({"f:spec": {"f:url": {}}})));
    assert_eq!(
        entry(&forced, "bob", "Apply").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:spec": {"f:interval": {}}}))
    );
    // Now alice is the one in conflict.
    let back =
        apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
            .await;
    assert_eq!(back.expect(409).body["message"], "Apply failed with 1 conflict: conflict with \"bob\": .spec.interval");
}

#[tokio::test]
async fn fields_a_manager_stops_applying_are_removed_unless_shared() {
    let api = Api::new();
    let path = app_path();
    let full = config(
        "    url: https://github.com/org/app\n    interval: 5m\n    suspend: true\n    ref:\n      branch: main\n",
    );
    apply(&api, &path, "fieldManager=alice", &full).await.expect(201);
    apply(&api, &path, "fieldManager=bob", &config("    suspend: true\n")).await.expect(200);

    let less =
        apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
            .await;
    let less = less.expect(200).body;
    assert!(less["spec"].get("ref").is_none(), "ref only alice applied is gone: {}", less["spec"]);
    assert_eq!(less["spec"]["suspend"], true, "bob still applies suspend");
    assert_eq!(
        entry(&less, "alice", "Apply").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:spec": {"f:interval": {}, "f:url": {}}}))
    );
    assert_eq!(less["metadata"]["generation"], 2);

    // bob applying no spec at all drops suspend too, and his emptied entry.
    let nothing = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n";
    let none = apply(&api, &path, "fieldManager=bob", nothing).await.expect(200).body;
    assert!(none["spec"].get("suspend").is_none(), "{}", none["spec"]);
    assert!(entry(&none, "bob", "Apply").is_none(), "an empty entry is dropped: {:?}", managed(&none));
}

#[tokio::test]
async fn status_applies_are_tracked_separately() {
    let api = Api::new();
    let path = app_path();
    let status = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\n\
                  status:\n  observedGeneration: 1\n";
    let missing = apply(&api, &format!("{path}/status"), "fieldManager=controller", status).await.expect(404);
    assert_eq!(missing.body["message"], "gitrepositories.source.toolkit.fluxcd.io \"app\" not found");
    api.get(&path).await.expect(404);

    apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
        .await
        .expect(201);
    let st = apply(&api, &format!("{path}/status"), "fieldManager=controller", status).await.expect(200).body;
    assert_eq!(st["status"]["observedGeneration"], 1);
    assert_eq!(st["metadata"]["generation"], 1, "a status write does not bump generation");
    assert_eq!(
        entry(&st, "controller", "Apply"),
        Some(json!({
            "manager": "controller", "operation": "Apply", "apiVersion": "source.toolkit.fluxcd.io/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:observedGeneration": {}}}, "subresource": "status"
        }))
    );
    assert!(entry(&st, "alice", "Apply").is_some());

    // The main resource ignores status; the status subresource ignores spec.
    let main = config("    url: https://github.com/org/app\n    interval: 6m\nstatus:\n  observedGeneration: 99\n");
    let main = apply(&api, &path, "fieldManager=alice", &main).await.expect(200).body;
    assert_eq!(main["status"]["observedGeneration"], 1);
    assert_eq!(main["spec"]["interval"], "6m");
    assert_eq!(
        entry(&main, "alice", "Apply").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:spec": {"f:interval": {}, "f:url": {}}}))
    );
    let sneaky = format!("{status}spec:\n  interval: 1h\n");
    let st = apply(&api, &format!("{path}/status"), "fieldManager=controller", &sneaky).await.expect(200).body;
    assert_eq!(st["spec"]["interval"], "6m");
    // A status manager that disagrees with another one conflicts like any applier.
    let other = status.replace("observedGeneration: 1", "observedGeneration: 2");
    let c = apply(&api, &format!("{path}/status"), "fieldManager=other", &other).await.expect(409);
    assert_eq!(
        c.body["message"],
        "Apply failed with 1 conflict: conflict with \"controller\" with subresource \"status\": .status.observedGeneration"
    );
}

#[tokio::test]
async fn dry_runs_leave_no_trace() {
    let api = Api::new();
    let path = app_path();
    let body = config("    url: https://github.com/org/app\n    interval: 5m\n");
    let dry = apply(&api, &path, "fieldManager=alice&dryRun=All", &body).await.expect(201).body;
    assert_eq!(dry["spec"]["interval"], "5m");
    assert!(entry(&dry, "alice", "Apply").is_some());
    api.get(&path).await.expect(404);

    let created = apply(&api, &path, "fieldManager=alice", &body).await.expect(201).body;
    let changed = apply(&api, &path, "fieldManager=bob&force=true&dryRun=All", &config("    interval: 9m\n")).await;
    let changed = changed.expect(200).body;
    assert_eq!(changed["spec"]["interval"], "9m");
    assert!(entry(&changed, "bob", "Apply").is_some());
    let stored = api.get(&path).await.expect(200).body;
    assert_eq!(stored, created);
    // Conflicts are reported for dry runs too.
    apply(&api, &path, "fieldManager=bob&dryRun=All", &config("    interval: 9m\n")).await.expect(409);
    assert_eq!(api.get(&path).await.expect(200).body, created);
}

#[tokio::test]
async fn other_writes_record_update_managers() {
    let api = Api::new();
    let path = app_path();
    // POST without fieldManager: the user agent's prefix.
    let created = api
        .call(Method::POST, GIT, &[("user-agent", "my-tool/1.2 (linux/amd64) abc")], Some(&git("app")))
        .await
        .expect(201)
        .body;
    assert_eq!(
        entry(&created, "my-tool", "Update"),
        Some(json!({
            "manager": "my-tool", "operation": "Update", "apiVersion": "source.toolkit.fluxcd.io/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {".": {}, "f:interval": {}, "f:timeout": {}, "f:url": {}}}
        }))
    );
    assert_eq!(managed(&created).len(), 1);

    // A merge patch takes the fields it changed.
    let patched = api
        .call(
            Method::PATCH,
            &format!("{path}?fieldManager=patcher"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({"spec": {"interval": "7m"}, "metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        entry(&patched, "patcher", "Update").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}, "f:spec": {"f:interval": {}}}))
    );
    assert_eq!(
        entry(&patched, "my-tool", "Update").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:spec": {".": {}, "f:timeout": {}, "f:url": {}}}))
    );

    // A PUT records its manager as well.
    let mut put = patched.clone();
    put["spec"]["ref"] = json!({"branch": "main"});
    let put = api.put(&format!("{path}?fieldManager=putter"), &put).await.expect(200).body;
    assert_eq!(
        entry(&put, "putter", "Update").map(|e| e["fieldsV1"].clone()),
        Some(json!({"f:spec": {"f:ref": {".": {}, "f:branch": {}}}}))
    );
    // A status write is an Update of the status subresource.
    let st = api
        .call(
            Method::PATCH,
            &format!("{path}/status?fieldManager=ctrl"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({"status": {"observedGeneration": 3}})),
        )
        .await
        .expect(200)
        .body;
    let e = entry(&st, "ctrl", "Update").unwrap_or_default();
    assert_eq!(e["subresource"], "status");
    // (status already exists: its observedGeneration has a schema default of -1)
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:observedGeneration": {}}}));

    // An applier now conflicts with the updater, named with its version.
    let c = apply(&api, &path, "fieldManager=alice", &config("    interval: 1m\n")).await.expect(409);
    assert_eq!(
        c.body["message"],
        "Apply failed with 1 conflict: conflict with \"patcher\" using source.toolkit.fluxcd.io/v1: .spec.interval"
    );

    // `[{}]` resets managedFields: the answer has none, and later updates stay untracked.
    let reset = api
        .patch(&path, "application/merge-patch+json", &json!({"metadata": {"managedFields": [{}]}}))
        .await
        .expect(200)
        .body;
    assert!(reset["metadata"].get("managedFields").is_none(), "{}", reset["metadata"]);
    let untracked = api
        .patch(
            &format!("{path}?fieldManager=late"),
            "application/merge-patch+json",
            &json!({"spec": {"interval": "8m"}}),
        )
        .await
        .expect(200)
        .body;
    assert!(untracked["metadata"].get("managedFields").is_none(), "{}", untracked["metadata"]);
    // The first apply afterwards records the existing fields under before-first-apply, which
    // then owns what alice wants to change.
    let c = apply(&api, &path, "fieldManager=alice", &config("    interval: 1m\n")).await.expect(409);
    assert_eq!(
        c.body["message"],
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using source.toolkit.fluxcd.io/v1: .spec.interval"
    );
    let applied = apply(&api, &path, "fieldManager=alice&force=true", &config("    interval: 1m\n")).await;
    let applied = applied.expect(200).body;
    assert_eq!(applied["spec"]["interval"], "1m");
    assert!(entry(&applied, "alice", "Apply").is_some());
    let before = entry(&applied, "before-first-apply", "Update").unwrap_or_default();
    assert!(before["fieldsV1"]["f:spec"]["f:url"].is_object(), "{before}");
    assert!(before["fieldsV1"]["f:spec"].get("f:interval").is_none(), "{before}");
}

#[tokio::test]
async fn apply_preconditions() {
    let api = Api::new();
    let path = app_path();
    let uid_config = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\n  uid: 0a0a0a0a-0000-0000-0000-000000000000\nspec:\n  url: https://github.com/org/app\n  interval: 5m\n";
    let c = apply(&api, &path, "fieldManager=alice", uid_config).await.expect(409);
    assert_eq!(
        c.body["message"],
        "Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io \"app\": uid mismatch: the provided object specified uid 0a0a0a0a-0000-0000-0000-000000000000, and no existing object was found"
    );
    let created =
        apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
            .await
            .expect(201)
            .body;
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
    let pinned = |rv: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\n  resourceVersion: \"{rv}\"\nspec:\n  url: https://github.com/org/app\n  interval: 6m\n"
        )
    };
    let stale = apply(&api, &path, "fieldManager=alice", &pinned("999999")).await;
    assert_eq!(
        stale.expect(409).body["message"],
        "Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io \"app\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let ok = apply(&api, &path, "fieldManager=alice", &pinned(&rv)).await.expect(200).body;
    assert_eq!(ok["spec"]["interval"], "6m");
}

/// `app` applied by alice in v1 (url and interval 5m): the API, its v1 path and its v1beta2 path.
async fn applied_by_alice_in_v1() -> (Api, String, &'static str) {
    let api = Api::new();
    let path = app_path();
    apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
        .await
        .expect(201);
    (api, path, "/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories/app")
}

#[tokio::test]
async fn apply_converts_between_versions() {
    let (api, path, beta) = applied_by_alice_in_v1().await;
    let body = "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  interval: 10m\n";
    let c = apply(&api, beta, "fieldManager=bob", body).await.expect(409);
    assert_eq!(c.body["message"], "Apply failed with 1 conflict: conflict with \"alice\": .spec.interval");
    let forced = apply(&api, beta, "fieldManager=bob&force=true", body).await.expect(200);
    assert!(forced.header("warning").is_some_and(|w| w.contains("deprecated")), "{:?}", forced.headers);
    assert_eq!(forced.body["apiVersion"], "source.toolkit.fluxcd.io/v1beta2");
    let v1 = api.get(&path).await.expect(200).body;
    assert_eq!(v1["spec"]["interval"], "10m");
    assert_eq!(
        entry(&v1, "bob", "Apply"),
        Some(json!({
            "manager": "bob", "operation": "Apply", "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:interval": {}}}
        }))
    );
    assert_eq!(entry(&v1, "alice", "Apply").map(|e| e["fieldsV1"].clone()), Some(json!({"f:spec": {"f:url": {}}})));
}

#[tokio::test]
async fn v1beta2_update_of_a_v1_object_drops_managed_fields_and_stores_no_v1beta2_default() {
    let (api, path, beta) = applied_by_alice_in_v1().await;
    // The patched body gets v1beta2's default gitImplementation, which alice's v1 cannot hold:
    // the update cannot be tracked, managedFields are dropped (kube's UpdateNoErrors), and the
    // default is not stored (kube prunes it in v1; Eddy does not remember it either).
    let patched = api
        .call(
            Method::PATCH,
            &format!("{beta}?fieldManager=kubectl-edit"),
            &[("content-type", "application/merge-patch+json")],
            Some(&json!({"spec": {"interval": "2m"}})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(patched["spec"], json!({"interval": "2m", "timeout": "60s", "url": "https://github.com/org/app"}));
    assert_eq!(patched["metadata"].get("managedFields"), None, "{patched}");
    let v1 = api.get(&path).await.expect(200).body;
    assert_eq!(v1["metadata"].get("annotations"), None, "{v1}");
    assert_eq!(v1["metadata"]["generation"], 2);
    // The next apply meets the untracked fields as before-first-apply.
    let c =
        apply(&api, &path, "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 3m\n"))
            .await
            .expect(409);
    assert_eq!(
        c.body["message"],
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using source.toolkit.fluxcd.io/v1: .spec.interval"
    );

    // A v1beta2 create stores no v1beta2 default either; what the client sent is remembered.
    let beta_list = "/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories";
    let mut defaulted = git("defaulted");
    defaulted["apiVersion"] = json!("source.toolkit.fluxcd.io/v1beta2");
    let created = api.post(beta_list, &defaulted).await.expect(201).body;
    assert_eq!(created["spec"].get("gitImplementation"), None, "{created}");
    let v1 = api.get(&format!("{GIT}/defaulted")).await.expect(200).body;
    assert_eq!(v1["metadata"].get("annotations"), None, "{v1}");
    let mut sent = git("sent");
    sent["apiVersion"] = json!("source.toolkit.fluxcd.io/v1beta2");
    sent["spec"]["gitImplementation"] = json!("libgit2");
    let created = api.post(beta_list, &sent).await.expect(201).body;
    assert_eq!(created["spec"]["gitImplementation"], "libgit2", "{created}");
}

/// Namespaces `flux-system` only.
#[derive(Debug)]
struct OnlyFluxSystem;

impl NamespaceLifecycle for OnlyFluxSystem {
    fn admit_create<'a>(&'a self, namespace: &'a str, _target: &'a Target) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move { if namespace == "flux-system" { Ok(()) } else { Err(namespace_not_found(namespace)) } })
    }
}

#[tokio::test]
async fn create_on_apply_goes_through_namespace_admission() {
    let api = Api::with_options(HttpOptions {
        namespace_lifecycle: Some(Arc::new(OnlyFluxSystem)),
        ..HttpOptions::default()
    });
    let elsewhere = "/apis/source.toolkit.fluxcd.io/v1/namespaces/gone/gitrepositories/app";
    let body = config("    url: https://github.com/org/app\n    interval: 5m\n").replace("flux-system", "gone");
    let a = apply(&api, elsewhere, "fieldManager=alice", &body).await.expect(404);
    assert_eq!(a.body["message"], "namespaces \"gone\" not found");
    apply(&api, &app_path(), "fieldManager=alice", &config("    url: https://github.com/org/app\n    interval: 5m\n"))
        .await
        .expect(201);
}

/// Admission runs inside the write, at the moment of creation: a POST is refused in a namespace
/// that does not exist, while a PUT (which never creates a custom resource) answers about the
/// object, as kube-apiserver does.
#[tokio::test]
async fn namespace_admission_runs_when_a_write_creates() {
    let api = Api::with_options(HttpOptions {
        namespace_lifecycle: Some(Arc::new(OnlyFluxSystem)),
        ..HttpOptions::default()
    });
    let gone = "/apis/source.toolkit.fluxcd.io/v1/namespaces/gone/gitrepositories";
    let mut obj = git("app");
    obj["metadata"]["namespace"] = json!("gone");
    let a = api.post(gone, &obj).await.expect(404);
    assert_eq!(a.body["message"], "namespaces \"gone\" not found");
    let a = api.put(&format!("{gone}/app"), &obj).await.expect(404);
    assert_eq!(a.body["details"]["kind"], "gitrepositories", "{}", a.body);
    // In an admitted namespace the same POST creates.
    api.post(GIT, &git("app")).await.expect(201);
}

async fn post_yaml(api: &Api, body: &str, accept: Option<&str>) -> Answer {
    let mut headers = vec![("content-type", "application/yaml")];
    if let Some(a) = accept {
        headers.push(("accept", a));
    }
    api.send(api.request(Method::POST, GIT, &headers, Some(body.as_bytes().to_vec()))).await
}

#[tokio::test]
async fn yaml_bodies_and_answers() {
    let api = Api::new();
    let yaml = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: flux-system\n\
                spec:\n  url: https://github.com/org/app\n  interval: 5m\n";
    let created = post_yaml(&api, yaml, None).await.expect(201).body;
    assert_eq!(created["spec"]["interval"], "5m");
    assert_eq!(created["spec"]["timeout"], "60s");

    // Several documents in one body are refused; so is YAML that does not parse.
    let two = format!("{}---\n{}", yaml.replace("name: app", "name: one"), yaml.replace("name: app", "name: two"));
    let a = post_yaml(&api, &two, None).await.expect(400);
    assert!(a.body["message"].as_str().is_some_and(|m| m.contains("more than one YAML document")), "{}", a.body);
    api.get(&format!("{GIT}/one")).await.expect(404);
    post_yaml(&api, "spec: [unclosed\n", None).await.expect(400);
    // Other media types stay 415.
    let a = api.send(api.request(Method::POST, GIT, &[("content-type", "text/plain")], Some(b"x".to_vec()))).await;
    assert_eq!(
        a.expect(415).body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
    );

    // Answers in YAML: get, list, create, update, and errors.
    let got = api.call(Method::GET, &format!("{GIT}/app"), &[("accept", "application/yaml")], None).await.expect(200);
    assert_eq!(got.header("content-type"), Some("application/yaml"));
    let text = String::from_utf8(got.raw.clone()).unwrap_or_default();
    assert!(text.starts_with("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"), "{text}");
    let parsed: Value = serde_norway::from_str(&text).unwrap_or_default();
    assert_eq!(parsed, created);
    let list = api.call(Method::GET, GIT, &[("accept", "application/yaml")], None).await.expect(200);
    let list: Value = serde_norway::from_slice(&list.raw).unwrap_or_default();
    assert_eq!(list["kind"], "GitRepositoryList");
    assert_eq!(list["items"][0]["metadata"]["name"], "app");

    let web = yaml.replace("name: app", "name: web");
    let made = post_yaml(&api, &web, Some("application/yaml")).await.expect(201);
    assert_eq!(made.header("content-type"), Some("application/yaml"));
    let made: Value = serde_norway::from_slice(&made.raw).unwrap_or_default();
    assert_eq!(made["metadata"]["name"], "web");

    let rv = made["metadata"]["resourceVersion"].as_str().unwrap_or_default();
    let update = web
        .replace("interval: 5m", "interval: 9m")
        .replace("  namespace: flux-system\n", &format!("  namespace: flux-system\n  resourceVersion: \"{rv}\"\n"));
    let put = api.request(
        Method::PUT,
        &format!("{GIT}/web"),
        &[("content-type", "application/yaml"), ("accept", "application/yaml")],
        Some(update.into_bytes()),
    );
    let put = api.send(put).await.expect(200);
    let put: Value = serde_norway::from_slice(&put.raw).unwrap_or_default();
    assert_eq!(put["spec"]["interval"], "9m");
    assert_eq!(put["metadata"]["generation"], 2);

    let missing = api.call(Method::GET, &format!("{GIT}/nope"), &[("accept", "application/yaml")], None).await;
    let missing = missing.expect(404);
    assert_eq!(missing.header("content-type"), Some("application/yaml"));
    let status: Value = serde_norway::from_slice(&missing.raw).unwrap_or_default();
    assert_eq!(status["reason"], "NotFound");

    // Watch streams and tables stay JSON only.
    api.call(Method::GET, &format!("{GIT}?watch=true"), &[("accept", "application/yaml")], None).await.expect(406);
    api.call(Method::GET, GIT, &[("accept", "application/yaml;as=Table;v=v1;g=meta.k8s.io")], None).await.expect(406);
}
