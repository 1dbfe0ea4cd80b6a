//! eddy-sops against the real sops v3.13.3: fixtures are encrypted by `sops --encrypt` at test
//! time, decrypted by the crate, and compared with the plaintext and with `sops --decrypt`.

mod support;

use std::collections::BTreeMap;

use eddy_sops::{Format, Keys, SopsError, decrypt, is_encrypted};
use serde_norway::Value as Yaml;
use support::{Sandbox, age_key, age_keys};

const YAML: &str = r#"# a head comment
apiVersion: v1
kind: Secret
metadata:
    name: demo # inline comment
data:
    nested:
        list:
            - one
            - 2
            - 3.5
            - true
            - key: value
              other: false
    int: 42
    negative: -7
    float: 0.25
    big_float: 1000000.5
    bool: false
    empty: ""
    multiline: |
        line one
        line two
    folded: "tab\tand \"quotes\""
    unicode: "héllo ✓"
    nothing: null
public_unencrypted: visible
"#;

fn yaml(data: &[u8]) -> Yaml {
    serde_norway::from_slice(data).expect("valid YAML")
}

#[test]
fn yaml_matches_plaintext_and_sops() {
    let sb = Sandbox::new();
    let key = age_key(1);
    let enc = sb.encrypt("secret.yaml", YAML.as_bytes(), &["--age", &key.recipient]);
    assert!(is_encrypted(&enc, Format::Yaml));
    assert!(!is_encrypted(YAML.as_bytes(), Format::Yaml));
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).expect("decrypts");
    assert_eq!(yaml(&ours), yaml(YAML.as_bytes()));
    let theirs = sb.decrypt("secret.yaml", &enc, &key.identity);
    assert_eq!(yaml(&ours), yaml(&theirs));
    // The value suffixed _unencrypted stays in clear in the encrypted file.
    assert!(String::from_utf8_lossy(&enc).contains("public_unencrypted: visible"));
}

#[test]
fn yaml_without_comments_is_byte_identical() {
    let sb = Sandbox::new();
    let key = age_key(2);
    let plain = "a: 1\nb:\n    c: x\n    d:\n        - 1\n        - k: v\n          l: true\n    e: |-\n        x\n        y\nf: \"yes\"\ng: 1.5\nh: \"\"\n";
    let enc = sb.encrypt("p.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("p.yaml", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
}

#[test]
fn multi_document_yaml() {
    let sb = Sandbox::new();
    let key = age_key(3);
    let plain = "a: 1\n---\nb: two\n";
    let enc = sb.encrypt("multi.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("multi.yaml", &enc, &key.identity);
    assert_eq!(ours, theirs);
}

#[test]
fn json_is_byte_identical_to_sops() {
    let sb = Sandbox::new();
    let key = age_key(4);
    let plain = r#"{"name": "x", "n": 12, "f": 1.5, "big": 12345678901234, "t": true, "nil": null,
        "list": [1, "two", {"three": 3}], "obj": {"html": "<a & b>", "empty": {}, "none": []}}"#;
    let enc = sb.encrypt("doc.json", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Json, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("doc.json", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours.clone()).unwrap(), String::from_utf8(theirs).unwrap());
    let a: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    let b: serde_json::Value = serde_json::from_str(plain).unwrap();
    assert_eq!(a, b);
}

#[test]
fn dotenv_is_byte_identical_to_sops() {
    let sb = Sandbox::new();
    let key = age_key(5);
    let plain = "# database\nDB_USER=admin\nDB_PASS=s3cr=t\nMULTI=a\\nb\nEMPTY=\n";
    let enc = sb.encrypt("app.env", plain.as_bytes(), &["--age", &key.recipient]);
    assert!(is_encrypted(&enc, Format::Dotenv));
    let ours = decrypt(&enc, Format::Dotenv, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("app.env", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours.clone()).unwrap(), String::from_utf8(theirs).unwrap());
    assert_eq!(String::from_utf8(ours).unwrap(), plain);
}

#[test]
fn ini_is_byte_identical_to_sops() {
    let sb = Sandbox::new();
    let key = age_key(6);
    let plain = "; the database\n[database]\nuser = admin\npassword = hunter2\n\n[app]\nurl = http://example.com\nport = 8080\n";
    let enc = sb.encrypt("app.ini", plain.as_bytes(), &["--age", &key.recipient]);
    assert!(is_encrypted(&enc, Format::Ini));
    let ours = decrypt(&enc, Format::Ini, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("app.ini", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
}

#[test]
fn binary_round_trips() {
    let sb = Sandbox::new();
    let key = age_key(7);
    let plain = "any bytes: \u{1} ünïcode\nand lines\n";
    let enc = sb.encrypt("blob.txt", plain.as_bytes(), &["--age", &key.recipient]);
    assert!(is_encrypted(&enc, Format::Binary));
    let ours = decrypt(&enc, Format::Binary, &age_keys(&[&key])).unwrap();
    assert_eq!(ours, plain.as_bytes());
    assert_eq!(ours, sb.decrypt("blob.txt", &enc, &key.identity));
}

#[test]
fn encrypted_regex_and_unencrypted_suffix() {
    let sb = Sandbox::new();
    let key = age_key(8);
    let plain = "metadata:\n    name: app\ndata:\n    token: abc\nstringData:\n    x: y\n";
    let enc =
        sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, "--encrypted-regex", "^(data|stringData)$"]);
    assert!(String::from_utf8_lossy(&enc).contains("name: app"));
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    assert_eq!(yaml(&ours), yaml(plain.as_bytes()));

    let plain = "user: admin\npassword_clear: open\nnested:\n    secret: s\n";
    let enc = sb.encrypt("s.yaml", plain.as_bytes(), &["--age", &key.recipient, "--unencrypted-suffix", "_clear"]);
    assert!(String::from_utf8_lossy(&enc).contains("password_clear: open"));
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    assert_eq!(yaml(&ours), yaml(plain.as_bytes()));
}

#[test]
fn mac_only_encrypted() {
    let sb = Sandbox::new();
    let key = age_key(9);
    let plain = "metadata:\n    name: app\ndata:\n    token: abc\n";
    let enc = sb.encrypt(
        "m.yaml",
        plain.as_bytes(),
        &["--age", &key.recipient, "--encrypted-regex", "^data$", "--mac-only-encrypted"],
    );
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    assert_eq!(yaml(&ours), yaml(plain.as_bytes()));
    // The unencrypted name is outside the MAC: changing it still verifies.
    let edited = String::from_utf8(enc).unwrap().replace("name: app", "name: other");
    assert!(decrypt(edited.as_bytes(), Format::Yaml, &age_keys(&[&key])).is_ok());
}

#[test]
fn several_recipients_one_key_matches() {
    let sb = Sandbox::new();
    let (a, b, c) = (age_key(10), age_key(11), age_key(12));
    let recipients = format!("{},{}", a.recipient, b.recipient);
    let enc = sb.encrypt("k.yaml", b"k: v\n", &["--age", &recipients]);
    for keys in [age_keys(&[&b]), age_keys(&[&c, &b]), age_keys(&[&a])] {
        assert_eq!(yaml(&decrypt(&enc, Format::Yaml, &keys).unwrap()), yaml(b"k: v\n"));
    }
    let err = decrypt(&enc, Format::Yaml, &age_keys(&[&c])).unwrap_err();
    assert!(matches!(err, SopsError::DataKey(_)), "{err:?}");
    assert_eq!(err.category(), eddy_sops::ErrorCategory::NoKey);
    let msg = err.to_string();
    assert!(msg.contains("0 successful groups required, got 0"), "{msg}");
    assert!(msg.contains(&a.recipient) && msg.contains(&b.recipient), "{msg}");
    assert!(msg.contains(&c.recipient), "the tried identity's recipient is named: {msg}");
    assert!(!msg.contains(&c.identity), "{msg}");
    let err = decrypt(&enc, Format::Yaml, &Keys::default()).unwrap_err().to_string();
    assert!(err.contains("no age identities"), "{err}");
}

#[test]
fn tampering_is_detected() {
    let sb = Sandbox::new();
    let key = age_key(13);
    let keys = age_keys(&[&key]);
    let plain = "a: one\nb: two\nc_unencrypted: clear\n";
    let enc = String::from_utf8(sb.encrypt("t.yaml", plain.as_bytes(), &["--age", &key.recipient])).unwrap();

    // Swapping two encrypted values: each fails its path's authentication.
    let value = |k: &str| enc.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().to_owned();
    let swapped = enc.replace(&value("a"), "@A@").replace(&value("b"), &value("a")).replace("@A@", &value("b"));
    let err = decrypt(swapped.as_bytes(), Format::Yaml, &keys).unwrap_err();
    assert!(matches!(err, SopsError::Value { .. }), "{err:?}");
    assert_eq!(err.category(), eddy_sops::ErrorCategory::Integrity);
    assert!(!err.to_string().contains("one") && !err.to_string().contains("two"));

    // Changing a value left in clear: the MAC no longer matches.
    let edited = enc.replace("c_unencrypted: clear", "c_unencrypted: changed");
    assert!(matches!(decrypt(edited.as_bytes(), Format::Yaml, &keys).unwrap_err(), SopsError::MacMismatch));

    // Changing the stored MAC or lastmodified: the MAC does not decrypt.
    let edited = enc.replace("lastmodified: \"", "lastmodified: \"1");
    let edited =
        if edited == enc { enc.replacen("lastmodified: ", "lastmodified: 1999-01-01T00:00:00Z #", 1) } else { edited };
    assert!(decrypt(edited.as_bytes(), Format::Yaml, &keys).is_err());
    let mac = enc.lines().find_map(|l| l.trim().strip_prefix("mac: ")).unwrap().to_owned();
    let data_start = mac.find("data:").unwrap() + 5;
    let mut broken = mac.clone();
    let c = if &mac[data_start..=data_start] == "A" { "B" } else { "A" };
    broken.replace_range(data_start..=data_start, c);
    let edited = enc.replace(&mac, &broken);
    let err = decrypt(edited.as_bytes(), Format::Yaml, &keys).unwrap_err();
    assert!(matches!(err, SopsError::MacUnreadable { .. }), "{err:?}");
}

#[test]
fn openpgp_keys_from_the_secret() {
    let sb = Sandbox::new();
    let (fp, armored) = sb.gpg_key("Eddy Test <eddy@example.com>");
    let enc = sb.encrypt("p.yaml", b"password: hunter2\n", &["--pgp", &fp]);
    let mut data = BTreeMap::new();
    data.insert("sops.asc".to_owned(), armored.into_bytes());
    let keys = Keys::from_secret_data(&data).unwrap();
    assert_eq!(keys.pgp_fingerprints(), vec![fp.to_uppercase()]);
    let ours = decrypt(&enc, Format::Yaml, &keys).unwrap();
    assert_eq!(yaml(&ours), yaml(b"password: hunter2\n"));

    // Another key: the error names the fingerprints, sops' way.
    let other = Sandbox::new();
    let (other_fp, other_armored) = other.gpg_key("Other <other@example.com>");
    let mut data = BTreeMap::new();
    data.insert("other.asc".to_owned(), other_armored.into_bytes());
    let err = decrypt(&enc, Format::Yaml, &Keys::from_secret_data(&data).unwrap()).unwrap_err().to_string();
    assert!(err.contains(&fp) && err.contains(&other_fp.to_uppercase()), "{err}");
}

#[test]
fn yaml_scalars_are_written_as_sops_writes_them() {
    let sb = Sandbox::new();
    let key = age_key(14);
    let plain = r#"quoted_int: "123"
quoted_bool: "true"
quoted_null: "null"
tilde: "~"
old_bool: "on"
letter_y: y
letter_n: "n"
colon: "a: b"
hash: "a #b"
dash: "- x"
leading_space: " x"
trailing_colon: "x:"
star: "*x"
question: ?x
flow: a,b[c]
url: http://example.com/a?b=c&d
long: aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh iiiiiiiiii
single: "it's"
backslash: 'C:\path'
keep: |+
    x

strip: |-
    a
    b
float_int: 2.0
exp: 1.0e+10
small: 0.00001
neg: -0.5
nested_lists:
    - - a
      - b
    - []
    - {}
"#;
    let enc = sb.encrypt("s.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("s.yaml", &enc, &key.identity);
    assert_eq!(yaml(&ours), yaml(&theirs));
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
}

#[test]
fn shamir_key_groups() {
    let sb = Sandbox::new();
    let (a, b, c) = (age_key(20), age_key(21), age_key(22));
    let config = format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
        a.recipient, b.recipient, c.recipient
    );
    std::fs::write(sb.path().join(".sops.yaml"), config).unwrap();
    let enc = sb.encrypt("g.yaml", b"k: v\n", &[]);
    assert!(String::from_utf8_lossy(&enc).contains("shamir_threshold: 2"));
    for keys in [age_keys(&[&a, &b]), age_keys(&[&b, &c]), age_keys(&[&a, &b, &c])] {
        assert_eq!(yaml(&decrypt(&enc, Format::Yaml, &keys).unwrap()), yaml(b"k: v\n"));
    }
    let err = decrypt(&enc, Format::Yaml, &age_keys(&[&b])).unwrap_err().to_string();
    assert!(err.contains("2 successful groups required, got 1"), "{err}");
}

#[test]
fn passphrase_protected_pgp_keys_are_refused() {
    let sb = Sandbox::new();
    let home = sb.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = std::process::Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", "pw"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    gpg(&["--quick-gen-key", "Locked <l@example.com>", "future-default", "default", "never"]);
    let armored = gpg(&["--armor", "--export-secret-keys"]);
    let mut data = BTreeMap::new();
    data.insert("locked.asc".to_owned(), armored);
    let err = Keys::from_secret_data(&data).unwrap_err();
    assert!(matches!(err, SopsError::InvalidKey { .. }), "{err:?}");
    assert!(err.to_string().contains("passphrase") && err.to_string().contains("locked.asc"), "{err}");
}

#[test]
fn unencrypted_numbers_count_in_the_mac_as_go_reads_them() {
    let sb = Sandbox::new();
    let key = age_key(15);
    let plain = "a_unencrypted: 1e3\nb_unencrypted: .5\nc_unencrypted: -12\nd_unencrypted: 0x1F\ne_unencrypted: 0755\nf_unencrypted: 1_000\ng_unencrypted: 0o17\nsecret: s\n";
    let enc = sb.encrypt("n.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Yaml, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("n.yaml", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
}

/// Strings that stress each writer's quoting, written into every format and compared byte for
/// byte with `sops --decrypt`.
const TRICKY: &[&str] = &[
    "plain",
    "with space",
    "tab\there",
    "quote\"d",
    "it's",
    "back\\slash",
    "unicode é ✓ 🦀",
    "<html> & co",
    "a=b",
    "semi;colon",
    "hash # mark",
    "#leading hash",
    "trailing space ",
    " leading space",
    "multi\nline",
    "multi\nline\twith tab",
    " leading\nspace block",
    "\nleading break",
    "nel\u{85}char",
    "nbsp\u{a0}char",
    "multi\nline\n",
    "ends with newlines\n\n",
    "line with trailing space \nnext",
    "123",
    "1.5",
    "true",
    "null",
    "0x1F",
    "2001-12-14",
    "1:30",
    "@at",
    "`tick`",
    "[bracket]",
    "{brace}",
    "%percent",
    "!bang",
    "&amp",
    "*star",
    "- dash",
    "-dash",
    "? q",
    ": colon",
    "key: value",
    "ctrl\u{1}char",
    "",
];

#[test]
fn tricky_strings_yaml_and_json() {
    let sb = Sandbox::new();
    let key = age_key(16);
    let keys = age_keys(&[&key]);
    let mut json_doc = serde_json::Map::new();
    for (i, s) in TRICKY.iter().enumerate() {
        json_doc.insert(format!("k{i}"), serde_json::Value::String((*s).to_owned()));
    }
    let json_text = serde_json::to_string(&json_doc).unwrap();
    for (name, format) in [("t.json", Format::Json), ("t.yaml", Format::Yaml)] {
        // JSON is valid YAML: sops reads the same strings either way.
        let enc = sb.encrypt(name, json_text.as_bytes(), &["--age", &key.recipient]);
        let ours = decrypt(&enc, format, &keys).unwrap();
        let theirs = sb.decrypt(name, &enc, &key.identity);
        let (ours, theirs) = (String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        for (a, b) in ours.lines().zip(theirs.lines()) {
            assert_eq!(a, b, "{name}: first differing line");
        }
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn tricky_strings_dotenv_and_ini() {
    let sb = Sandbox::new();
    let key = age_key(17);
    let keys = age_keys(&[&key]);
    // dotenv and INI values are single lines without their format's special characters.
    let simple: Vec<&str> = TRICKY
        .iter()
        .copied()
        .filter(|s| !s.contains('\n') && !s.is_empty() && !s.starts_with(' ') && !s.ends_with(' '))
        .collect();
    let env: String = simple.iter().enumerate().map(|(i, s)| format!("K{i}={s}\n")).collect();
    let enc = sb.encrypt("t.env", env.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Dotenv, &keys).unwrap()).unwrap();
    assert_eq!(ours, String::from_utf8(sb.decrypt("t.env", &enc, &key.identity)).unwrap());
    assert_eq!(ours, env);

    let ini_values: Vec<&str> = simple.iter().copied().filter(|s| !s.contains(['#', ';', '"', '`'])).collect();
    let ini: String = std::iter::once("[s]\n".to_owned())
        .chain(ini_values.iter().enumerate().map(|(i, s)| format!("k{i} = {s}\n")))
        .collect();
    let enc = sb.encrypt("t.ini", ini.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Ini, &keys).unwrap()).unwrap();
    assert_eq!(ours, String::from_utf8(sb.decrypt("t.ini", &enc, &key.identity)).unwrap());
}

#[test]
fn service_keys_are_named_as_unsupported() {
    let sb = Sandbox::new();
    let key = age_key(18);
    let enc = String::from_utf8(sb.encrypt("k.yaml", b"k: v\n", &["--age", &key.recipient])).unwrap();
    // A GCP KMS key next to the age key (the metadata is outside the MAC).
    let id = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
    let with_gcp = enc.replacen(
        "sops:\n",
        &format!("sops:\n    gcp_kms:\n        - resource_id: {id}\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: AQICAHg=\n"),
        1,
    );
    assert_eq!(yaml(&decrypt(with_gcp.as_bytes(), Format::Yaml, &age_keys(&[&key])).unwrap()), yaml(b"k: v\n"));
    let err = decrypt(with_gcp.as_bytes(), Format::Yaml, &age_keys(&[&age_key(19)])).unwrap_err().to_string();
    assert!(err.contains(id) && err.contains("GCP KMS is not supported"), "{err}");
    assert!(err.contains(&key.recipient), "{err}");
    // An AWS KMS key when the caller did not enable AWS KMS (tests/aws_kms.rs covers KMS itself).
    let arn = "arn:aws:kms:us-east-1:000000000000:key/test";
    let with_kms = enc.replacen(
        "sops:\n",
        &format!("sops:\n    kms:\n        - arn: {arn}\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: AQICAHg=\n          aws_profile: \"\"\n"),
        1,
    );
    let err = decrypt(with_kms.as_bytes(), Format::Yaml, &age_keys(&[&age_key(19)])).unwrap_err().to_string();
    assert!(err.contains(arn) && err.contains("AWS KMS is not configured"), "{err}");
}

#[test]
fn ini_comments_defaults_and_delimiters() {
    let sb = Sandbox::new();
    let key = age_key(23);
    let plain = "top = level\n; about the db\n# second line\n[db]\n; the user\nuser = admin\npass: p@ss\nquoted = \"with spaces\"\nempty =\n[other]\nk = v ; trailing comment\n";
    let enc = sb.encrypt("c.ini", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Ini, &age_keys(&[&key])).unwrap()).unwrap();
    let theirs = String::from_utf8(sb.decrypt("c.ini", &enc, &key.identity)).unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn json_duplicate_keys_and_huge_numbers_as_go_reads_them() {
    let sb = Sandbox::new();
    let key = age_key(24);
    let plain =
        r#"{"a": "first", "a": "second", "huge": 18446744073709551615, "neg": -9223372036854775808, "e": 1e300}"#;
    let enc = sb.encrypt("d.json", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = decrypt(&enc, Format::Json, &age_keys(&[&key])).unwrap();
    let theirs = sb.decrypt("d.json", &enc, &key.identity);
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
}

const COMMENTED: &str = "# head comment

# second head
apiVersion: v1
kind: Secret # kind inline
metadata:
  # name head
  name: demo # inline
  labels:
    a: b
  # foot of metadata?
stringData:
  # the password
  password: x # after the password
  block: |
    text
  list:
    # item head
    - one
    - two
    # list foot
  maps:
    - k: v
      # second key
      l: w
# final foot
";

#[test]
fn yaml_comments_as_sops_writes_them() {
    let sb = Sandbox::new();
    let key = age_key(25);
    let keys = age_keys(&[&key]);
    for args in [vec![], vec!["--encrypted-regex", "^(data|stringData)$"], vec!["--unencrypted-suffix", "_clear"]] {
        let mut all = vec!["--age", key.recipient.as_str()];
        all.extend(args.iter().copied());
        let enc = sb.encrypt("c.yaml", COMMENTED.as_bytes(), &all);
        let ours = match decrypt(&enc, Format::Yaml, &keys) {
            Ok(o) => String::from_utf8(o).unwrap(),
            Err(e) => panic!("sops {args:?}: {e}\n{}", String::from_utf8_lossy(&enc)),
        };
        let theirs = String::from_utf8(sb.decrypt("c.yaml", &enc, &key.identity)).unwrap();
        assert_eq!(ours, theirs, "sops {args:?}");
    }
}

#[test]
fn yaml_comment_regexes() {
    let sb = Sandbox::new();
    let key = age_key(26);
    let keys = age_keys(&[&key]);
    let plain = "# sops:enc\npassword: secret\nuser: admin\nnested:\n    # sops:enc\n    token: t\n    clear: c\n";
    for (flag, regex) in [("--encrypted-comment-regex", "sops:enc"), ("--unencrypted-comment-regex", "sops:enc")] {
        let enc = sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, flag, regex]);
        let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &keys).unwrap()).unwrap();
        let theirs = String::from_utf8(sb.decrypt("r.yaml", &enc, &key.identity)).unwrap();
        assert_eq!(ours, theirs, "{flag}");
    }
}

#[test]
fn multi_document_yaml_comments() {
    let sb = Sandbox::new();
    let key = age_key(27);
    let keys = age_keys(&[&key]);
    let plain = "# one\na: 1\n---\n# two\nb: 2 # inline\n# end\n";
    let enc = sb.encrypt("m.yaml", plain.as_bytes(), &["--age", &key.recipient]);
    let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &keys).unwrap()).unwrap();
    assert_eq!(ours, String::from_utf8(sb.decrypt("m.yaml", &enc, &key.identity)).unwrap());
    let plain = "# sops:enc\na: 1\n---\nb: two\n";
    let enc =
        sb.encrypt("r.yaml", plain.as_bytes(), &["--age", &key.recipient, "--encrypted-comment-regex", "sops:enc"]);
    let ours = String::from_utf8(decrypt(&enc, Format::Yaml, &keys).unwrap()).unwrap();
    assert_eq!(ours, String::from_utf8(sb.decrypt("r.yaml", &enc, &key.identity)).unwrap());
}
