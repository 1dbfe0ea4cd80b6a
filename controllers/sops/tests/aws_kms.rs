//! AWS KMS master keys against a real KMS API: moto's server (a local AWS, installed by
//! `hack/build-moto`) holds the keys, the real sops v3.13.3 CLI encrypts with them, and Eddy
//! decrypts what sops wrote — with the Secret's `sops.aws-kms` credentials, through an
//! assumed role (STS on a second moto server, so the test sees that STS was asked), and with a
//! tampered encryption context (KMS refuses; the message is the SDK's, without secrets).
//! Eddy's Signature Version 4 is compared with botocore's signer for the same request.

mod support;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eddy_sops::aws::{AwsKms, Credentials, sigv4};
use eddy_sops::{Format, Keys};

const ACCESS_KEY: &str = "AKIDEDDYTEST";
const SECRET_KEY: &str = "eddy-test-secret-key-do-not-log";

/// moto's virtual environment (launcher and Python with boto3); fails, never skips, when it
/// cannot be installed.
fn moto_env() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-moto");
        let out = Command::new(&script).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(out.status.success(), "hack/build-moto failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let launcher = PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim());
        launcher.parent().expect("bin dir").to_path_buf()
    })
}

/// A moto server on a free 127.0.0.1 port, stopped on drop; its request log in `log`.
struct Moto {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("moto.log");
        let child = Command::new(moto_env().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url: format!("http://127.0.0.1:{port}"), log, _dir: dir }
    }

    /// Requests seen (lines of the server's access log).
    fn requests(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| l.contains("\"POST ")).count()
    }

    /// Creates a symmetric KMS key with boto3; returns its ARN.
    fn create_key(&self) -> String {
        python(&format!(
            "import boto3\nc = boto3.client('kms', endpoint_url='{}', region_name='eu-west-1', \
             aws_access_key_id='{ACCESS_KEY}', aws_secret_access_key='x')\nprint(c.create_key()['KeyMetadata']['Arn'])",
            self.url
        ))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(code: &str) -> String {
    let out = Command::new(moto_env().join("python")).args(["-c", code]).output().expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// `sops --encrypt` of `plain` with KMS on `moto` (AWS_ENDPOINT_URL_KMS, static credentials).
fn sops_encrypt(moto: &Moto, name: &str, plain: &[u8], args: &[&str]) -> Vec<u8> {
    sops(moto, name, plain, "--encrypt", args)
}

/// `sops --decrypt` of `encrypted` (written as `name`) with KMS on `moto`.
fn sops_decrypt(moto: &Moto, name: &str, encrypted: &[u8]) -> Vec<u8> {
    sops(moto, name, encrypted, "--decrypt", &[])
}

fn sops(moto: &Moto, name: &str, input: &[u8], verb: &str, args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(name);
    std::fs::write(&file, input).expect("write");
    let out = Command::new(support::sops_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL_KMS", &moto.url)
        .env("AWS_ENDPOINT_URL_STS", &moto.url)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .arg(verb)
        .args(args)
        .arg(&file)
        .output()
        .expect("run sops");
    assert!(out.status.success(), "sops {verb} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn secret_keys() -> Keys {
    let mut data = BTreeMap::new();
    data.insert(
        "sops.aws-kms".to_owned(),
        format!("aws_access_key_id: {ACCESS_KEY}\naws_secret_access_key: {SECRET_KEY}\n").into_bytes(),
    );
    Keys::from_secret_data(&data).expect("credentials import")
}

const PLAIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n";

#[test]
fn decrypts_what_sops_encrypted_with_kms() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let encrypted = sops_encrypt(
        &moto,
        "secret.yaml",
        PLAIN.as_bytes(),
        &["--kms", &arn, "--encryption-context", "app:db,env:test"],
    );
    let text = String::from_utf8_lossy(&encrypted);
    assert!(text.contains(&arn) && text.contains("env: test"), "{text}");
    let kms = AwsKms::from_vars(|k| (k == "AWS_ENDPOINT_URL_KMS").then(|| moto.url.clone()));
    let before = moto.requests();
    let keys = secret_keys().with_aws_kms(kms.clone());
    let plain = eddy_sops::decrypt(&encrypted, Format::Yaml, &keys).expect("decrypt");
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN);
    assert_eq!(moto.requests(), before + 1, "one KMS Decrypt call");
    assert_eq!(sops_decrypt(&moto, "secret.yaml", &encrypted), PLAIN.as_bytes());

    // A JSON document and a dotenv file with the same key.
    let json = sops_encrypt(&moto, "c.json", br#"{"token":"abc","n":1}"#, &["--kms", &arn]);
    let plain = eddy_sops::decrypt(&json, Format::Json, &keys).expect("decrypt json");
    assert_eq!(String::from_utf8(plain).unwrap(), String::from_utf8(sops_decrypt(&moto, "c.json", &json)).unwrap());
    let env = sops_encrypt(&moto, "c.env", b"TOKEN=abc\nN=1\n", &["--kms", &arn]);
    let plain = eddy_sops::decrypt(&env, Format::Dotenv, &keys).expect("decrypt dotenv");
    assert_eq!(plain, sops_decrypt(&moto, "c.env", &env));

    // Without credentials anywhere: the failure names what is missing, not a secret.
    let bare = Keys::default().with_aws_kms(kms);
    let err = eddy_sops::decrypt(&encrypted, Format::Yaml, &bare).unwrap_err().to_string();
    assert!(err.contains(&arn) && err.contains("no AWS credentials"), "{err}");

    // KMS not enabled at all.
    let err = eddy_sops::decrypt(&encrypted, Format::Yaml, &secret_keys()).unwrap_err().to_string();
    assert!(err.contains("AWS KMS is not configured"), "{err}");
}

#[test]
fn credentials_from_the_environment_and_a_tampered_context() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let encrypted = sops_encrypt(&moto, "s.yaml", PLAIN.as_bytes(), &["--kms", &arn, "--encryption-context", "app:db"]);
    let url = moto.url.clone();
    let kms = AwsKms::from_vars(move |k| match k {
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET_KEY.to_owned()),
        _ => None,
    });
    let keys = Keys::default().with_aws_kms(kms);
    let plain = eddy_sops::decrypt(&encrypted, Format::Yaml, &keys).expect("decrypt with ambient credentials");
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN);

    // The context is not covered by sops' MAC but by KMS: changing it makes KMS refuse.
    let tampered = String::from_utf8(encrypted).unwrap().replace("app: db", "app: web");
    let err = eddy_sops::decrypt(tampered.as_bytes(), Format::Yaml, &keys).unwrap_err().to_string();
    assert!(
        err.contains("failed to decrypt sops data key with AWS KMS: operation error KMS: Decrypt, https response error StatusCode: 400")
            && err.contains("InvalidCiphertextException"),
        "{err}"
    );
    assert!(!err.contains(SECRET_KEY));
}

#[test]
fn assumes_the_role_of_the_key_first() {
    let kms_server = Moto::start();
    let sts_server = Moto::start();
    let arn = kms_server.create_key();
    let role = "arn:aws:iam::123456789012:role/sops-decrypt";
    // sops writes the role next to the ARN (`ARN+ROLE`) and assumes it to encrypt as well.
    let encrypted = sops_encrypt(&kms_server, "s.yaml", PLAIN.as_bytes(), &["--kms", &format!("{arn}+{role}")]);
    assert!(String::from_utf8_lossy(&encrypted).contains(&format!("role: {role}")));
    let (kms_url, sts_url) = (kms_server.url.clone(), sts_server.url.clone());
    let kms = AwsKms::from_vars(move |k| match k {
        "AWS_ENDPOINT_URL_KMS" => Some(kms_url.clone()),
        "AWS_ENDPOINT_URL_STS" => Some(sts_url.clone()),
        _ => None,
    });
    let sts_before = sts_server.requests();
    let plain = eddy_sops::decrypt(&encrypted, Format::Yaml, &secret_keys().with_aws_kms(kms)).expect("decrypt");
    assert_eq!(String::from_utf8(plain).unwrap(), PLAIN);
    assert_eq!(sts_server.requests(), sts_before + 1, "one STS AssumeRole call");
}

type SignCase = (&'static str, &'static str, &'static [(&'static str, &'static str)], &'static str, &'static str);

#[test]
fn signatures_agree_with_botocore() {
    // (host, service, headers, body, session token)
    let cases: [SignCase; 3] = [
        (
            "kms.eu-west-1.amazonaws.com",
            "kms",
            &[("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Decrypt")],
            r#"{"CiphertextBlob":"AQID","KeyId":"arn:aws:kms:eu-west-1:1:key/k"}"#,
            "",
        ),
        (
            "127.0.0.1:4566",
            "sts",
            &[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&Version=2011-06-15",
            "",
        ),
        ("kms.us-east-1.amazonaws.com", "kms", &[("X-Amz-Target", "TrentService.Decrypt")], "{}", "session-token"),
    ];
    for (host, service, headers, body, token) in cases {
        let credentials = Credentials {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: token.into(),
        };
        let region = if host.contains("eu-west-1") { "eu-west-1" } else { "us-east-1" };
        let ours = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                host,
                path: "/",
                headers,
                payload: body.as_bytes(),
                region,
                service,
                amz_date: "20261207T101112Z",
            },
            &credentials,
        );
        let authorization = &ours.iter().find(|(k, _)| *k == "Authorization").expect("authorization").1;
        let py_headers: Vec<String> = headers.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
        let theirs = python(&format!(
            "import datetime, botocore.auth\n\
             from botocore.awsrequest import AWSRequest\n\
             from botocore.credentials import Credentials\n\
             botocore.auth.get_current_datetime = lambda: datetime.datetime(2026, 12, 7, 10, 11, 12)\n\
             r = AWSRequest(method='POST', url='http://{host}/', data={body:?}.encode(), headers={{{}}})\n\
             botocore.auth.SigV4Auth(Credentials('{ACCESS_KEY}', '{SECRET_KEY}', {}), '{service}', '{region}').add_auth(r)\n\
             print(r.headers['Authorization'])",
            py_headers.join(", "),
            if token.is_empty() { "None".to_owned() } else { format!("'{token}'") },
        ));
        assert_eq!(authorization, &theirs, "{host} {service}");
    }
}
