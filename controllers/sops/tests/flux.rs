//! Flux's decryptor against documents encrypted by the real sops: built objects and
//! generator sources.

mod support;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use eddy_sops::SopsError;
use eddy_sops::flux::{decrypt_object, decrypt_sources};
use serde_json::{Value, json};
use support::{Sandbox, age_key, age_keys};

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ntype: Opaque\nstringData:\n    password: hunter2\n    port: \"5432\"\n";

fn yaml_to_json(data: &[u8]) -> Value {
    serde_norway::from_slice(data).expect("valid YAML")
}

#[test]
fn whole_object_after_kustomize_changed_it() {
    let sb = Sandbox::new();
    let key = age_key(30);
    let enc =
        sb.encrypt("s.yaml", SECRET.as_bytes(), &["--age", &key.recipient, "--encrypted-regex", "^(data|stringData)$"]);
    let mut obj = yaml_to_json(&enc);
    // What the kustomize build adds: the MAC no longer covers the object, as in Flux.
    obj["metadata"]["namespace"] = json!("apps");
    obj["metadata"]["labels"] = json!({"team": "a"});
    let out = decrypt_object(&obj, &age_keys(&[&key])).unwrap().expect("decrypted");
    assert_eq!(out["stringData"]["password"], "hunter2");
    assert_eq!(out["stringData"]["port"], "5432");
    assert_eq!(out["metadata"]["namespace"], "apps");
    assert!(out.get("sops").is_none());

    let err = decrypt_object(&obj, &age_keys(&[&age_key(31)])).unwrap_err();
    assert!(matches!(err, SopsError::Object { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("'apps/db'") && msg.contains(&key.recipient), "{msg}");
    assert!(!msg.contains("hunter2"));

    let mut disabled = obj.clone();
    disabled["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/decrypt": "disabled"});
    assert_eq!(decrypt_object(&disabled, &age_keys(&[&key])).unwrap(), None);
}

#[test]
fn secret_fields_holding_sops_files() {
    let sb = Sandbox::new();
    let key = age_key(32);
    let env = sb.encrypt("app.env", b"USER=admin\nPASS=s3cret\n", &["--age", &key.recipient]);
    let json_doc = sb.encrypt("cfg.json", br#"{"token": "t0k"}"#, &["--age", &key.recipient]);
    let bin = sb.encrypt("cert.pem", b"-----BEGIN CERT-----\n", &["--age", &key.recipient]);
    let obj = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "gen", "namespace": "apps"},
        "data": {
            "app.env": STANDARD.encode(&env),
            "cfg.json": STANDARD.encode(&json_doc),
            "cert.pem": STANDARD.encode(&bin),
            "plain": STANDARD.encode("untouched"),
            "notbase64": "%%%",
        }
    });
    let out = decrypt_object(&obj, &age_keys(&[&key])).unwrap().expect("decrypted");
    let field = |k: &str| String::from_utf8(STANDARD.decode(out["data"][k].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(field("app.env"), "USER=admin\nPASS=s3cret\n");
    assert_eq!(field("cfg.json"), "{\n\t\"token\": \"t0k\"\n}\n");
    assert_eq!(field("cert.pem"), "-----BEGIN CERT-----\n");
    assert_eq!(field("plain"), "untouched");
    assert_eq!(out["data"]["notbase64"], "%%%");
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[test]
fn generator_sources_in_nested_kustomizations() {
    let sb = Sandbox::new();
    let key = age_key(33);
    let enc = |name: &str, plain: &[u8]| sb.encrypt(name, plain, &["--age", &key.recipient]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", b"resources:\n  - ../base\n  - https://example.com/remote\ncomponents:\n  - ../comp\nsecretGenerator:\n  - name: a\n    envs: [secrets.env]\n    files: [token.yaml=token.enc.yaml, raw.bin]\n");
    write(root, "app/secrets.env", &enc("secrets.env", b"A=1\nB=two\n"));
    write(root, "app/token.enc.yaml", &enc("token.yaml", b"token: abc\n"));
    write(root, "app/raw.bin", &enc("raw.bin", b"binary-ish\n"));
    write(
        root,
        "base/kustomization.yaml",
        b"secretGenerator:\n  - name: b\n    files: [cfg.json]\npatches:\n  - path: patch.yaml\n",
    );
    write(root, "base/cfg.json", &enc("cfg.json", br#"{"k": "v"}"#));
    write(root, "base/patch.yaml", &enc("patch.yaml", b"kind: Secret\nstringData:\n    x: z\n"));
    write(root, "comp/kustomization.yaml", b"kind: Component\nsecretGenerator:\n  - name: c\n    envs: [c.env]\nconfigMapGenerator:\n  - name: m\n    envs: [m.env]\n");
    write(root, "comp/c.env", &enc("c.env", b"C=3\n"));
    let cm = enc("m.env", b"M=4\n");
    write(root, "comp/m.env", &cm);

    decrypt_sources(root, Path::new("app"), &age_keys(&[&key])).unwrap();
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();
    assert_eq!(read("app/secrets.env"), "A=1\nB=two\n");
    assert_eq!(read("app/token.enc.yaml"), "token: abc\n");
    assert_eq!(read("app/raw.bin"), "binary-ish\n");
    assert_eq!(read("base/cfg.json"), "{\n\t\"k\": \"v\"\n}\n");
    assert_eq!(read("base/patch.yaml"), "kind: Secret\nstringData:\n    x: z\n");
    assert_eq!(read("comp/c.env"), "C=3\n");
    // As kustomize-controller: configMapGenerator inputs stay as they are.
    assert_eq!(std::fs::read(root.join("comp/m.env")).unwrap(), cm);
    // Running again is a no-op on decrypted files.
    decrypt_sources(root, &root.join("app"), &age_keys(&[&key])).unwrap();
    assert_eq!(read("app/secrets.env"), "A=1\nB=two\n");
}

#[test]
fn generator_sources_never_leave_the_root() {
    let sb = Sandbox::new();
    let key = age_key(34);
    let outside = tempfile::tempdir().unwrap();
    let secret_outside = sb.encrypt("o.env", b"O=1\n", &["--age", &key.recipient]);
    std::fs::write(outside.path().join("o.env"), &secret_outside).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // `..` climbing out and a symlink pointing out are both resolved inside the root.
    let up = format!("../../../../../../../../{}/o.env", outside.path().display());
    write(root, "kustomization.yaml", format!("secretGenerator:\n  - name: a\n    envs: [\"{up}\"]\n").as_bytes());
    let err = decrypt_sources(root, Path::new("."), &age_keys(&[&key])).unwrap_err();
    assert!(matches!(err, SopsError::Source(_)), "{err:?}");
    assert_eq!(std::fs::read(outside.path().join("o.env")).unwrap(), secret_outside);

    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    write(root, "kustomization.yaml", b"secretGenerator:\n  - name: a\n    envs: [link/o.env]\n");
    assert!(decrypt_sources(root, Path::new("."), &age_keys(&[&key])).is_err());
    assert_eq!(std::fs::read(outside.path().join("o.env")).unwrap(), secret_outside);

    // A symlink inside the root is followed inside it, as upstream (securejoin).
    write(root, "real.env", &secret_outside);
    std::os::unix::fs::symlink("real.env", root.join("alias.env")).unwrap();
    write(root, "kustomization.yaml", b"secretGenerator:\n  - name: a\n    envs: [alias.env]\n");
    decrypt_sources(root, Path::new("."), &age_keys(&[&key])).unwrap();
    assert_eq!(std::fs::read_to_string(root.join("real.env")).unwrap(), "O=1\n");
}

#[test]
fn missing_top_level_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = decrypt_sources(dir.path(), Path::new("nope"), &age_keys(&[&age_key(35)])).unwrap_err();
    assert!(matches!(err, SopsError::Source(_)), "{err:?}");
}

#[test]
fn root_given_through_a_symlink() {
    let sb = Sandbox::new();
    let key = age_key(36);
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write(&real, "app/kustomization.yaml", b"secretGenerator:\n  - name: a\n    envs: [s.env]\n");
    write(&real, "app/s.env", &sb.encrypt("s.env", b"S=1\n", &["--age", &key.recipient]));
    decrypt_sources(&link, &link.join("app"), &age_keys(&[&key])).unwrap();
    assert_eq!(std::fs::read_to_string(real.join("app/s.env")).unwrap(), "S=1\n");
}
