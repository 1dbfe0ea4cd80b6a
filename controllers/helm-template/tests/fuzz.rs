//! Differential fuzzing against the reference Helm v4.3.2 (`hack/build-helm`): templates are
//! generated from a small grammar of actions, pipelines, functions and values with a fixed
//! seed (`EDDY_FUZZ_SEED` and `EDDY_FUZZ_CASES` explore further during development), each is
//! rendered by Helm and by this crate, and outputs must be identical or both must fail with the
//! same message (YAML syntax errors count as agreeing: the parsers word them differently).
//! Known differences are listed in `tests/fuzz-known-differences.txt` as `SEED:INDEX reason`.

mod support;

use std::path::Path;
use std::process::Command;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};
use support::{Rng, helm, known_differences};

const ATOMS: &[&str] = &[
    ".Values.s",
    ".Values.i",
    ".Values.f",
    ".Values.l",
    ".Values.m",
    ".Values.b",
    ".Values.e",
    ".Values.missing",
    ".Values.nested.k",
    ".Release.Name",
    ".Chart.Name",
    "1",
    "0",
    "-3",
    "2.5",
    "\"str\"",
    "\"a,b,c\"",
    "\"\"",
    "true",
    "false",
    "nil",
    "(list 1 \"x\" 2.5)",
    "(dict \"k\" \"v\" \"n\" 1)",
    ".Values.m.b",
    "(.Values.l | first)",
];

const UNARY: &[&str] = &[
    "upper",
    "lower",
    "title",
    "quote",
    "squote",
    "toString",
    "len",
    "not",
    "empty",
    "kindOf",
    "typeOf",
    "toJson",
    "b64enc",
    "sha256sum",
    "trim",
    "first",
    "last",
    "int",
    "int64",
    "float64",
    "keys",
    "sortAlpha",
    "toStrings",
    "uniq",
    "compact",
    "reverse",
    "deepCopy",
    "add1",
    "print",
    "html",
    "js",
    "urlquery",
    "toYaml",
    "fromYaml",
    "nospace",
    "snakecase",
    "kebabcase",
];

const BINARY: &[&str] = &[
    "default",
    "eq",
    "ne",
    "lt",
    "gt",
    "le",
    "ge",
    "and",
    "or",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "coalesce",
    "has",
    "hasKey",
    "index",
    "get",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "trunc",
    "indent",
    "repeat",
    "splitList",
    "join",
    "append",
    "prepend",
    "without",
    "printf \"%v-%v\"",
    "printf \"%d|%s\"",
    "list",
    "cat",
    "pluck",
    "concat",
    "semverCompare",
];

fn expr(r: &mut Rng, depth: u32) -> String {
    if depth == 0 || r.chance(3) {
        return r.pick(ATOMS).to_string();
    }
    match r.next() % 4 {
        0 => format!("({} {})", r.pick(UNARY), expr(r, depth - 1)),
        1 => format!("({} {} {})", r.pick(BINARY), expr(r, depth - 1), expr(r, depth - 1)),
        2 => format!("({} | {})", expr(r, depth - 1), r.pick(UNARY)),
        _ => format!("({} | {} {})", expr(r, depth - 1), r.pick(BINARY), expr(r, depth - 1)),
    }
}

fn template(r: &mut Rng) -> String {
    let mut out = String::from("x: |\n");
    for _ in 0..3 {
        let e = expr(r, 3);
        let line = match r.next() % 5 {
            0 => format!("{{{{ if {e} }}}}yes{{{{ else }}}}no{{{{ end }}}}"),
            1 => format!("{{{{ range $i, $v := {e} }}}}{{{{ $i }}}}={{{{ $v }}}};{{{{ end }}}}"),
            2 => format!("{{{{ with {e} }}}}w:{{{{ . }}}}{{{{ else }}}}none{{{{ end }}}}"),
            3 => format!("{{{{ $x := {e} }}}}{{{{ $x | toJson }}}}"),
            _ => format!("{{{{ {e} }}}}"),
        };
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

const VALUES: &str =
    "s: Hello World\ni: 3\nf: 1.5\nl: [a, 1, true]\nm: {b: 2, a: x}\nb: true\ne: ''\nnested: {k: [1, 2]}\n";

#[test]
fn generated_templates_match_helm() {
    let helm = helm();
    let seed: u64 = std::env::var("EDDY_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_207);
    let cases: usize = std::env::var("EDDY_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let home = tempfile::tempdir().expect("temp dir");
    let chart = home.path().join("fz");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: fz\nversion: 0.1.0\n").expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), VALUES).expect("values.yaml");
    let known = known_differences(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-known-differences.txt"));
    let mut rng = Rng(seed);
    let (mut same, mut both_yaml) = (0, 0);
    let mut failures = Vec::new();
    for i in 0..cases {
        let id = format!("{seed}:{i}");
        let text = template(&mut rng);
        std::fs::write(chart.join("templates/t.yaml"), &text).expect("template");
        let out = Command::new(&helm)
            .arg("template")
            .arg(&chart)
            .env_clear()
            .env("HOME", home.path())
            .env("KUBECONFIG", home.path().join("none"))
            .output()
            .expect("helm");
        let expected = if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let e = String::from_utf8_lossy(&out.stderr).into_owned();
            let e = e.strip_prefix("Error: ").unwrap_or(&e).trim_end().to_string();
            Err(e.strip_suffix("\n\nUse --debug flag to render out invalid YAML").unwrap_or(&e).to_string())
        };
        let got = load_dir(&chart)
            .map_err(|e| e.to_string())
            .and_then(|c| render(&c, &Options::default()).map(|r| r.to_helm_output()).map_err(|e| e.to_string()));
        let agree = match (&expected, &got) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) if a == b => true,
            (Err(a), Err(b)) if a.starts_with("YAML parse error") && b.starts_with("YAML parse error") => {
                both_yaml += 1;
                true
            }
            _ => false,
        };
        match (agree, known.contains_key(&id)) {
            (true, false) => same += 1,
            (true, true) => failures.push(format!("{id}: listed as a known difference but agrees")),
            (false, true) => {}
            (false, false) => failures.push(format!("{id}: {text}\n  helm: {expected:?}\n  eddy: {got:?}")),
        }
    }
    eprintln!(
        "helm fuzz: seed {seed}, {cases} templates: {same} agree ({both_yaml} as YAML errors), {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{} generated templates disagree with helm:\n{}", failures.len(), failures.join("\n"));
}
