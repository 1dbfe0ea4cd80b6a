//! Server-side apply semantics, one behaviour per test, with expectations worked out from
//! structured-merge-diff and apimachinery's managedfields code.

mod common;

use common::*;
use eddy_ssa::{ApplyError, Request};
use serde_json::{Value, json};

const T1: &str = "2026-01-01T00:00:01Z";
const T2: &str = "2026-01-01T00:00:02Z";
const T3: &str = "2026-01-01T00:00:03Z";

fn conflicts(r: Result<Value, ApplyError>) -> (String, Vec<(String, String)>) {
    match r {
        Err(ApplyError::Conflicts(c)) => (c.message(), c.causes().into_iter().map(|c| (c.message, c.field)).collect()),
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn create_by_apply_owns_exactly_the_applied_fields() {
    let fm = widget_manager(true);
    let config = widget(json!({
        "replicas": 1, "image": "nginx", "tags": ["a"], "env": {"A": "1"},
        "ports": [{"name": "http", "port": 80}],
        "selector": {"matchLabels": {"app": "w"}},
        "template": {"b": {"c": "x"}},
        "values": {"x": {"y": 1}, "list": [1, {"z": 2}]}
    }));
    let obj = apply(&fm, None, &config, &req("a", T1), false).unwrap();
    assert_eq!(without_meta(&obj), without_meta(&config));
    assert_eq!(managers(&obj), ["a:Apply"]);
    let e = entry_of(&obj, "a", "Apply").unwrap();
    assert_eq!(e["apiVersion"], V1);
    assert_eq!(e["time"], T1);
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e.get("subresource").is_none());
    assert_eq!(
        serde_json::to_string(&e["fieldsV1"]).unwrap(),
        concat!(
            r#"{"f:spec":{"f:env":{"f:A":{}},"f:image":{},"f:ports":{"k:{\"name\":\"http\"}":{".":{},"f:name":{},"f:port":{}}},"#,
            r#""f:replicas":{},"f:selector":{},"f:tags":{},"f:template":{"f:b":{"f:c":{}}},"#,
            r#""f:values":{"f:list":{},"f:x":{".":{},"f:y":{}}}}}"#
        )
    );
}

#[test]
fn reapplying_the_same_config_is_a_no_op() {
    let fm = widget_manager(true);
    let config = widget(json!({"replicas": 1}));
    let obj = apply(&fm, None, &config, &req("a", T1), false).unwrap();
    let again = fm.apply(Some(&obj), &config, &req("a", T2), false).unwrap();
    assert!(!again.changed);
    assert_eq!(entry_of(&again.object, "a", "Apply").unwrap()["time"], T1);
    assert_eq!(again.object["metadata"]["managedFields"], obj["metadata"]["managedFields"]);
}

#[test]
fn same_value_from_a_second_applier_is_shared_without_a_time() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "image": "x"})), &req("a", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"replicas": 1})), &req("b", T2), false).unwrap();
    // Nothing changed, so kube stamps no time for b (and sorts it first).
    assert_eq!(managers(&obj), ["b:Apply", "a:Apply"]);
    assert!(entry_of(&obj, "b", "Apply").unwrap().get("time").is_none());
    assert_eq!(fields_of(&obj, "b", "Apply").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
    // a stops applying replicas: b still owns it, so it stays.
    let obj = apply(&fm, Some(&obj), &widget(json!({"image": "x"})), &req("a", T3), false).unwrap();
    assert_eq!(obj["spec"], json!({"replicas": 1, "image": "x"}));
    assert_eq!(fields_of(&obj, "a", "Apply").unwrap(), json!({"f:spec": {"f:image": {}}}));
}

#[test]
fn conflicts_name_the_owner_and_force_takes_ownership() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "image": "x"})), &req("a", T1), false).unwrap();
    let (msg, causes) = conflicts(apply(&fm, Some(&obj), &widget(json!({"replicas": 2})), &req("b", T2), false));
    assert_eq!(msg, r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#);
    assert_eq!(causes, [(r#"conflict with "a""#.to_owned(), ".spec.replicas".to_owned())]);

    let forced = apply(&fm, Some(&obj), &widget(json!({"replicas": 2})), &req("b", T2), true).unwrap();
    assert_eq!(forced["spec"], json!({"replicas": 2, "image": "x"}));
    assert_eq!(fields_of(&forced, "a", "Apply").unwrap(), json!({"f:spec": {"f:image": {}}}));
    assert_eq!(fields_of(&forced, "b", "Apply").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry_of(&forced, "b", "Apply").unwrap()["time"], T2);
}

#[test]
fn conflict_with_several_managers_and_update_managers() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "image": "x"})), &req("a", T1), false).unwrap();
    let mut edited = obj.clone();
    edited["spec"]["suspend"] = json!(true);
    edited["spec"]["tags"] = json!(["t"]);
    let obj = update(&fm, Some(&obj), &edited, &req("kubectl-edit", T2));
    let r = apply(
        &fm,
        Some(&obj),
        &widget(json!({"replicas": 3, "image": "y", "suspend": false, "tags": []})),
        &req("b", T3),
        false,
    );
    let (msg, causes) = conflicts(r);
    assert_eq!(
        msg,
        "Apply failed with 4 conflicts: conflicts with \"a\":\n- .spec.image\n- .spec.replicas\nconflicts with \"kubectl-edit\" using test.eddy.io/v1:\n- .spec.suspend\n- .spec.tags"
    );
    assert_eq!(
        causes[2],
        (r#"conflict with "kubectl-edit" using test.eddy.io/v1"#.to_owned(), ".spec.suspend".to_owned())
    );
}

#[test]
fn conflict_status_body() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1})), &req("a", T1), false).unwrap();
    let Err(ApplyError::Conflicts(c)) = fm.apply(Some(&obj), &widget(json!({"replicas": 2})), &req("b", T2), false)
    else {
        panic!("expected a conflict")
    };
    assert_eq!(
        c.status(),
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas",
            "reason": "Conflict",
            "details": {"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}]},
            "code": 409
        })
    );
}

#[test]
fn fields_no_longer_applied_are_removed_unless_someone_else_owns_them() {
    let fm = widget_manager(true);
    let obj = apply(
        &fm,
        None,
        &widget(json!({"replicas": 1, "image": "x", "env": {"A": "1", "B": "2"}})),
        &req("a", T1),
        false,
    )
    .unwrap();
    // An update manager takes env.B (changing it).
    let mut edited = obj.clone();
    edited["spec"]["env"]["B"] = json!("3");
    let obj = update(&fm, Some(&obj), &edited, &req("kubectl-edit", T2));
    assert_eq!(fields_of(&obj, "kubectl-edit", "Update").unwrap(), json!({"f:spec": {"f:env": {"f:B": {}}}}));
    // a drops image and the whole env: image goes, env.A goes, env.B (kubectl-edit's) stays.
    let obj = apply(&fm, Some(&obj), &widget(json!({"replicas": 1})), &req("a", T3), false).unwrap();
    assert_eq!(obj["spec"], json!({"replicas": 1, "env": {"B": "3"}}));
    assert_eq!(fields_of(&obj, "a", "Apply").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn removing_everything_under_a_field_leaves_null_for_the_server_to_drop() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"template": {"a": "x"}})), &req("a", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"template": {}})), &req("a", T2), false).unwrap();
    // kube's RemoveItems turns a map emptied by pruning into null; defaulting/pruning of
    // non-nullable nulls then drops it.
    assert_eq!(obj["spec"]["template"], Value::Null);
    assert_eq!(fields_of(&obj, "a", "Apply").unwrap(), json!({"f:spec": {"f:template": {}}}));
}

#[test]
fn atomic_lists_are_replaced_whole() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"tags": ["a", "b"]})), &req("a", T1), false).unwrap();
    let (_, causes) = conflicts(apply(&fm, Some(&obj), &widget(json!({"tags": ["c"]})), &req("b", T2), false));
    assert_eq!(causes[0].1, ".spec.tags");
    let obj = apply(&fm, Some(&obj), &widget(json!({"tags": ["c"]})), &req("b", T2), true).unwrap();
    assert_eq!(obj["spec"]["tags"], json!(["c"]));
    assert!(fields_of(&obj, "a", "Apply").is_none(), "a owned nothing else and disappears");
}

#[test]
fn sets_merge_items_and_remove_only_own_items() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"aliases": ["x", "y"]})), &req("a", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"aliases": ["z", "x"]})), &req("b", T2), false).unwrap();
    assert_eq!(obj["spec"]["aliases"], json!(["z", "x", "y"]));
    assert_eq!(
        fields_of(&obj, "b", "Apply").unwrap(),
        json!({"f:spec": {"f:aliases": {"v:\"x\"": {}, "v:\"z\"": {}}}})
    );
    let obj = apply(&fm, Some(&obj), &widget(json!({"aliases": []})), &req("a", T3), false).unwrap();
    assert_eq!(obj["spec"]["aliases"], json!(["z", "x"]));
    assert!(fields_of(&obj, "a", "Apply").is_none(), "an empty set list is not owned");
}

#[test]
fn map_lists_merge_by_key_and_conflict_per_field() {
    let fm = widget_manager(true);
    let obj =
        apply(&fm, None, &widget(json!({"ports": [{"name": "http", "port": 80}]})), &req("a", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"ports": [{"name": "https", "port": 443}]})), &req("b", T2), false)
        .unwrap();
    assert_eq!(obj["spec"]["ports"], json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]));
    let (msg, _) = conflicts(apply(
        &fm,
        Some(&obj),
        &widget(json!({"ports": [{"name": "http", "port": 8080}]})),
        &req("b", T3),
        false,
    ));
    assert_eq!(msg, r#"Apply failed with 1 conflict: conflict with "a": .spec.ports[name="http"].port"#);
    // Sharing an item (same values) is fine; the item and its name become shared.
    let obj =
        apply(&fm, Some(&obj), &widget(json!({"ports": [{"name": "http", "protocol": "UDP"}]})), &req("b", T3), false)
            .unwrap();
    assert_eq!(obj["spec"]["ports"][0], json!({"name": "http", "port": 80, "protocol": "UDP"}));
    assert_eq!(
        fields_of(&obj, "b", "Apply").unwrap(),
        json!({"f:spec": {"f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:protocol": {}}}}})
    );
}

#[test]
fn new_items_follow_the_applied_order() {
    let fm = widget_manager(true);
    let obj =
        apply(&fm, None, &widget(json!({"ports": [{"name": "a"}, {"name": "b"}]})), &req("m1", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"ports": [{"name": "c"}, {"name": "a"}]})), &req("m2", T2), false)
        .unwrap();
    assert_eq!(obj["spec"]["ports"], json!([{"name": "c"}, {"name": "a"}, {"name": "b"}]));
}

#[test]
fn list_keys_use_schema_defaults() {
    let fm = widget_manager(true);
    let obj = apply(
        &fm,
        None,
        &widget(json!({"endpoints": [{"port": 80}, {"port": 80, "protocol": "UDP"}]})),
        &req("a", T1),
        false,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&fields_of(&obj, "a", "Apply").unwrap()).unwrap(),
        r#"{"f:spec":{"f:endpoints":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}},"k:{\"port\":80,\"protocol\":\"UDP\"}":{".":{},"f:port":{},"f:protocol":{}}}}}"#
    );
}

#[test]
fn granular_and_atomic_maps() {
    let fm = widget_manager(true);
    let obj = apply(
        &fm,
        None,
        &widget(json!({"env": {"A": "1"}, "selector": {"matchLabels": {"x": "1"}}})),
        &req("a", T1),
        false,
    )
    .unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"env": {"B": "2"}})), &req("b", T2), false).unwrap();
    assert_eq!(obj["spec"]["env"], json!({"A": "1", "B": "2"}));
    let (msg, _) = conflicts(apply(
        &fm,
        Some(&obj),
        &widget(json!({"selector": {"matchLabels": {"y": "2"}}})),
        &req("b", T3),
        false,
    ));
    assert!(msg.ends_with(": .spec.selector"), "{msg}");
    let obj =
        apply(&fm, Some(&obj), &widget(json!({"selector": {"matchLabels": {"y": "2"}}})), &req("b", T3), true).unwrap();
    assert_eq!(obj["spec"]["selector"], json!({"matchLabels": {"y": "2"}}));
}

#[test]
fn preserve_unknown_fields_are_granular_maps_with_atomic_lists() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"values": {"x": {"y": 1}, "l": [1, 2]}})), &req("a", T1), false).unwrap();
    let obj = apply(&fm, Some(&obj), &widget(json!({"values": {"x": {"z": 2}}})), &req("b", T2), false).unwrap();
    assert_eq!(obj["spec"]["values"], json!({"x": {"y": 1, "z": 2}, "l": [1, 2]}));
    assert_eq!(fields_of(&obj, "b", "Apply").unwrap(), json!({"f:spec": {"f:values": {"f:x": {".": {}, "f:z": {}}}}}));
    let (msg, _) = conflicts(apply(&fm, Some(&obj), &widget(json!({"values": {"l": [3]}})), &req("b", T3), false));
    assert!(msg.ends_with(": .spec.values.l"), "{msg}");
}

#[test]
fn main_resource_applies_never_own_status() {
    let fm = widget_manager(true);
    let config = widget(json!({"replicas": 1}));
    let mut with_status = config.clone();
    with_status["status"] = json!({"phase": "Ready"});
    let obj = fm.apply(None, &with_status, &req("a", T1), false).unwrap().object;
    // The merge keeps it; the strategy (the server's job) resets status afterwards.
    assert_eq!(obj["status"], json!({"phase": "Ready"}));
    assert_eq!(fields_of(&obj, "a", "Apply").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
    // Without a status subresource, status is an ordinary field.
    let plain = widget_manager(false).apply(None, &with_status, &req("a", T1), false).unwrap().object;
    assert_eq!(
        fields_of(&plain, "a", "Apply").unwrap(),
        json!({"f:spec": {"f:replicas": {}}, "f:status": {"f:phase": {}}})
    );
}

#[test]
fn status_applies_are_their_own_entries() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1})), &req("a", T1), false).unwrap();
    let status_req = Request { subresource: "status", ..req("controller", T2) };
    let config = json!({"apiVersion": V1, "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
        "spec": {"replicas": 5}, "status": {"phase": "Ready"}});
    let obj = apply(&fm, Some(&obj), &config, &status_req, false).unwrap();
    assert_eq!(managers(&obj), ["a:Apply", "controller:Apply/status"]);
    assert_eq!(fields_of(&obj, "controller", "Apply").unwrap(), json!({"f:status": {"f:phase": {}}}));
    // spec is a reset field for status writes: no conflict with a, and not owned.
    assert_eq!(obj["spec"]["replicas"], 5, "merged; the status strategy puts the old spec back");
    // A second status applier conflicts with the first, named with its subresource.
    let other = Request { subresource: "status", ..req("other", T3) };
    let mut cfg2 = config.clone();
    cfg2["status"]["phase"] = json!("Failed");
    let (msg, _) = conflicts(apply(&fm, Some(&obj), &cfg2, &other, false));
    assert_eq!(
        msg,
        r#"Apply failed with 1 conflict: conflict with "controller" with subresource "status": .status.phase"#
    );
}

#[test]
fn updates_record_changed_fields_including_new_maps() {
    let fm = widget_manager(true);
    let new = json!({"apiVersion": V1, "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", "labels": {"app": "w"}, "finalizers": ["f"]},
        "spec": {"replicas": 1, "env": {"A": "1"}, "ports": [{"name": "http"}]}});
    let obj = update(&fm, None, &new, &req("kubectl-create", T1));
    assert_eq!(managers(&obj), ["kubectl-create:Update"]);
    assert_eq!(
        serde_json::to_string(&fields_of(&obj, "kubectl-create", "Update").unwrap()).unwrap(),
        concat!(
            r#"{"f:metadata":{"f:finalizers":{".":{},"v:\"f\"":{}},"f:labels":{".":{},"f:app":{}}},"#,
            r#""f:spec":{".":{},"f:env":{".":{},"f:A":{}},"f:ports":{".":{},"k:{\"name\":\"http\"}":{".":{},"f:name":{}}},"f:replicas":{}}}"#
        )
    );
    // A write that changes nothing keeps the entry and its time.
    let same = update(&fm, Some(&obj), &obj, &req("kubectl-create", T2));
    assert_eq!(entry_of(&same, "kubectl-create", "Update").unwrap()["time"], T1);
    // Another writer takes the fields it changes; the first keeps the rest.
    let mut edited = same.clone();
    edited["spec"]["replicas"] = json!(2);
    let obj = update(&fm, Some(&same), &edited, &req("kubectl-edit", T3));
    assert_eq!(fields_of(&obj, "kubectl-edit", "Update").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
    assert!(
        !fields_of(&obj, "kubectl-create", "Update").unwrap()["f:spec"].as_object().unwrap().contains_key("f:replicas")
    );
    // Status writes are separate entries; with a status subresource they do not own spec.
    let status_req = Request { subresource: "status", ..req("controller", T3) };
    let mut st = obj.clone();
    st["status"] = json!({"phase": "Ready"});
    let obj = update(&fm, Some(&obj), &st, &status_req);
    assert_eq!(
        entry_of(&obj, "controller", "Update").unwrap(),
        json!({"manager": "controller", "operation": "Update", "apiVersion": V1, "time": T3, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {".": {}, "f:phase": {}}}, "subresource": "status"})
    );
}

#[test]
fn update_managers_are_keyed_by_version_appliers_are_not() {
    let fm = widget_manager(true);
    let obj = update(&fm, None, &widget(json!({"replicas": 1})), &req("m", T1));
    let beta = Request { api_version: V1BETA1, ..req("m", T2) };
    let live_beta = fm.types().convert(&obj, V1BETA1).unwrap();
    let mut new_beta = live_beta.clone();
    new_beta["spec"]["imageRef"] = json!("x");
    let obj = update(&fm, Some(&live_beta), &new_beta, &beta);
    assert_eq!(managers(&obj), ["m:Update", "m:Update"]);
    let versions: Vec<&str> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["apiVersion"].as_str().unwrap())
        .collect();
    assert_eq!(versions, [V1, V1BETA1]);
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    let fm = widget_manager(true);
    let mut obj = update(&fm, None, &widget(json!({"replicas": 0})), &req("m0", "2026-01-01T00:00:00Z"));
    for i in 1..=10 {
        let mut next = obj.clone();
        if next["spec"]["env"].is_null() {
            next["spec"]["env"] = json!({});
        }
        next["spec"]["env"][format!("K{i}")] = json!("v");
        obj = update(&fm, Some(&obj), &next, &req(&format!("m{i}"), &format!("2026-01-01T00:00:{i:02}Z")));
    }
    let ms = managers(&obj);
    assert_eq!(ms.len(), 10, "{ms:?}");
    assert_eq!(ms[0], "ancient-changes:Update");
    let ancient = entry_of(&obj, "ancient-changes", "Update").unwrap();
    assert_eq!(ancient["time"], "2026-01-01T00:00:01Z");
    // m0's and m1's fields, merged.
    assert_eq!(ancient["fieldsV1"], json!({"f:spec": {".": {}, "f:env": {".": {}, "f:K1": {}}, "f:replicas": {}}}));
    assert!(!ms.contains(&"m0:Update".to_owned()) && !ms.contains(&"m1:Update".to_owned()));
}

#[test]
fn an_empty_list_keeps_the_live_managed_fields() {
    // Custom resources coerce metadata through ObjectMeta (managedFields omitempty), so `[]`
    // counts as absent (checked against kube-apiserver v1.36.3, scenario 065).
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "image": "x"})), &req("a", T1), false).unwrap();
    let mut new = obj.clone();
    new["metadata"]["managedFields"] = json!([]);
    new["spec"]["replicas"] = json!(2);
    let kept = update(&fm, Some(&obj), &new, &req("kubectl", T2));
    assert_eq!(managers(&kept), ["a:Apply", "kubectl:Update"]);
}

#[test]
fn reset_with_an_empty_entry_strips_and_stops_tracking_until_apply() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "env": {"A": "1"}})), &req("a", T1), false).unwrap();
    let mut new = obj.clone();
    new["metadata"]["managedFields"] = json!([{}]);
    let cleared = update(&fm, Some(&obj), &new, &req("kubectl", T2));
    assert!(cleared["metadata"].get("managedFields").is_none());
    // Further updates of an existing object without managers are not tracked.
    let mut edited = cleared.clone();
    edited["spec"]["replicas"] = json!(2);
    let still = update(&fm, Some(&cleared), &edited, &req("kubectl-edit", T3));
    assert!(still["metadata"].get("managedFields").is_none());
    // The first apply gives the existing fields to before-first-apply.
    let r = apply(&fm, Some(&still), &widget(json!({"replicas": 3})), &req("a", T3), false);
    let (msg, _) = conflicts(r);
    assert_eq!(
        msg,
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using test.eddy.io/v1: .spec.replicas"#
    );
    let obj2 = apply(&fm, Some(&still), &widget(json!({"replicas": 2})), &req("a", T3), false).unwrap();
    assert_eq!(managers(&obj2), ["a:Apply", "before-first-apply:Update"]);
    assert_eq!(
        fields_of(&obj2, "before-first-apply", "Update").unwrap(),
        json!({"f:spec": {".": {}, "f:env": {".": {}, "f:A": {}}, "f:replicas": {}}})
    );
}

#[test]
fn managed_fields_in_the_request_replace_the_live_ones_for_updates_only() {
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"replicas": 1, "image": "x"})), &req("a", T1), false).unwrap();
    let mut new = obj.clone();
    new["metadata"]["managedFields"] = json!([{"manager": "someone", "operation": "Update", "apiVersion": V1,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:image": {}}}}]);
    let out = update(&fm, Some(&obj), &new, &req("x", T2));
    assert_eq!(managers(&out), ["someone:Update"]);
    // Through a subresource the request's managedFields are ignored.
    let out = update(&fm, Some(&obj), &new, &Request { subresource: "status", ..req("x", T2) });
    assert_eq!(managers(&out), ["a:Apply"]);
    // Undecodable ones fall back to the live object's.
    new["metadata"]["managedFields"] =
        json!([{"manager": "bad", "operation": "Patch", "apiVersion": V1, "fieldsType": "FieldsV1"}]);
    let out = update(&fm, Some(&obj), &new, &req("x", T2));
    assert_eq!(managers(&out), ["a:Apply"]);
}

#[test]
fn kubectl_upgrades_from_client_side_apply() {
    let fm = widget_manager(true);
    let last = r#"{"apiVersion":"test.eddy.io/v1","kind":"Widget","metadata":{"annotations":{},"name":"w","namespace":"default"},"spec":{"image":"x","replicas":1}}
"#;
    let mut created = widget(json!({"replicas": 1, "image": "x"}));
    created["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": last});
    let obj = update(&fm, None, &created, &req("kubectl-client-side-apply", T1));
    // A server-side apply by another manager conflicts with the client-side-apply manager.
    let cfg = widget(json!({"replicas": 2, "image": "x"}));
    let (msg, _) = conflicts(apply(&fm, Some(&obj), &cfg, &req("helm", T2), false));
    assert_eq!(
        msg,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using test.eddy.io/v1: .spec.replicas"#
    );
    // kubectl takes over what its last-applied configuration set, and refreshes the annotation.
    let up = apply(&fm, Some(&obj), &cfg, &req("kubectl", T2), false).unwrap();
    assert_eq!(up["spec"]["replicas"], 2);
    assert_eq!(fields_of(&up, "kubectl", "Apply").unwrap(), json!({"f:spec": {"f:image": {}, "f:replicas": {}}}));
    assert_eq!(
        up["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"apiVersion\":\"test.eddy.io/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\",\"namespace\":\"default\"},\"spec\":{\"image\":\"x\",\"replicas\":2}}\n"
    );
    // A field someone changed since the client-side apply still conflicts.
    let mut edited = obj.clone();
    edited["spec"]["image"] = json!("y");
    let edited = update(&fm, Some(&obj), &edited, &req("kubectl-edit", T2));
    let cfg = widget(json!({"replicas": 2, "image": "z"}));
    let (msg, _) = conflicts(apply(&fm, Some(&edited), &cfg, &req("kubectl", T3), false));
    assert_eq!(msg, r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using test.eddy.io/v1: .spec.image"#);
}

#[test]
fn appliers_in_other_versions_are_compared_in_their_version() {
    let fm = widget_manager(true);
    let beta = Request { api_version: V1BETA1, ..req("old", T1) };
    let cfg = json!({"apiVersion": V1BETA1, "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
        "spec": {"imageRef": "x", "replicas": 1}});
    let obj = apply(&fm, None, &cfg, &beta, false).unwrap();
    assert_eq!(entry_of(&obj, "old", "Apply").unwrap()["apiVersion"], V1BETA1);
    // Stored (and read back) in v1.
    let live = fm.types().convert(&obj, V1).unwrap();
    assert_eq!(live["spec"]["image"], "x");
    let (msg, _) = conflicts(apply(&fm, Some(&live), &widget(json!({"image": "y"})), &req("new", T2), false));
    assert_eq!(msg, r#"Apply failed with 1 conflict: conflict with "old": .spec.imageRef"#);
    // Forcing moves ownership; the old applier keeps replicas (in its version).
    let obj = apply(&fm, Some(&live), &widget(json!({"image": "y"})), &req("new", T2), true).unwrap();
    assert_eq!(fields_of(&obj, "old", "Apply").unwrap(), json!({"f:spec": {"f:replicas": {}}}));
    // The old applier stops applying replicas: pruned in its version.
    let live_beta = fm.types().convert(&obj, V1BETA1).unwrap();
    let cfg =
        json!({"apiVersion": V1BETA1, "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": {}});
    let obj = apply(&fm, Some(&live_beta), &cfg, &Request { api_version: V1BETA1, ..req("old", T3) }, false).unwrap();
    assert_eq!(obj["spec"], json!({"imageRef": "y"}));
}

#[test]
fn invalid_configs() {
    let fm = widget_manager(true);
    let bad = |config: Value| fm.apply(None, &config, &req("a", T1), false).unwrap_err().to_string();
    assert_eq!(
        bad(widget(json!({"nope": 1}))),
        "failed to create typed patch object (default/w; test.eddy.io/v1, Kind=Widget): .spec.nope: field not declared in schema"
    );
    assert_eq!(
        bad(widget(json!({"ports": [{"name": "a"}, {"name": "a"}]}))),
        r#"failed to create typed patch object (default/w; test.eddy.io/v1, Kind=Widget): .spec.ports: duplicate entries for key [name="a"]"#
    );
    assert_eq!(
        bad(widget(json!({"replicas": "one"}))),
        "failed to create typed patch object (default/w; test.eddy.io/v1, Kind=Widget): .spec.replicas: expected numeric (int or float), got string"
    );
    let mut with_mf = widget(json!({}));
    with_mf["metadata"]["managedFields"] = json!([]);
    assert!(
        matches!(fm.apply(None, &with_mf, &req("a", T1), false), Err(ApplyError::BadRequest(m)) if m == "metadata.managedFields must be nil")
    );
    let mut other_kind = widget(json!({}));
    other_kind["kind"] = json!("Gadget");
    assert_eq!(bad(other_kind), "invalid object type: test.eddy.io/v1, Kind=Gadget");
}

#[test]
fn metadata_is_typed_as_object_meta() {
    let fm = widget_manager(true);
    let mut cfg = widget(json!({}));
    cfg["metadata"]["labels"] = json!({"app": "w"});
    cfg["metadata"]["finalizers"] = json!(["a/b"]);
    cfg["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u1", "controller": true}]);
    let obj = apply(&fm, None, &cfg, &req("a", T1), false).unwrap();
    assert_eq!(
        fields_of(&obj, "a", "Apply").unwrap(),
        json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}, "f:labels": {"f:app": {}},
            "f:ownerReferences": {"k:{\"uid\":\"u1\"}": {}}}, "f:spec": {}})
    );
    let mut other = widget(json!({}));
    other["metadata"]["finalizers"] = json!(["c/d"]);
    other["metadata"]["labels"] = json!({"team": "x"});
    let obj = apply(&fm, Some(&obj), &other, &req("b", T2), false).unwrap();
    assert_eq!(obj["metadata"]["finalizers"], json!(["a/b", "c/d"]));
    assert_eq!(obj["metadata"]["labels"], json!({"app": "w", "team": "x"}));
    let mut bad = widget(json!({}));
    bad["metadata"]["bogus"] = json!(1);
    assert!(
        fm.apply(None, &bad, &req("a", T1), false)
            .unwrap_err()
            .to_string()
            .ends_with(".metadata.bogus: field not declared in schema")
    );
}

#[test]
fn empty_associative_lists_are_not_owned() {
    // kube's ToFieldSet records nothing for an empty set or map list that is a declared field, so
    // an apply of only that leaves no manager at all.
    let fm = widget_manager(true);
    let obj = apply(&fm, None, &widget(json!({"ports": [], "aliases": []})), &req("a", T1), false).unwrap();
    assert!(obj["metadata"].get("managedFields").is_none());
    assert_eq!(obj["spec"], json!({"ports": [], "aliases": []}));
}
