//! Tests of the ignore rules. The `ORACLE` table was produced by running fluxcd/pkg's
//! `sourceignore/gitignore` matcher (Go) over every pattern set and path below; each digit is
//! its answer, so these rows pin Eddy to Flux's observable behaviour, quirks included.

use super::*;
use std::fs;

const PATHS: &[(&str, bool)] = &[
    ("deploy", true),
    ("deploy/app.yaml", false),
    ("README.md", false),
    ("docs/README.md", false),
    ("config", true),
    ("config/keep.yaml", false),
    ("config/other.yaml", false),
    ("config", false),
    ("kustomization.yaml", false),
    ("apps/kustomization.yaml", false),
    ("apps/a.yaml", false),
    ("apps/x/a.yaml", false),
    ("apps/x/test", true),
    ("apps/x/y/test/z", false),
    ("apps", true),
    ("apps/keep.yaml", false),
    ("apps/base", true),
    ("apps/x/base", true),
    ("apps/x/q", false),
    ("secrets.yaml", false),
    ("a/secret.txt", false),
    ("docs", true),
    ("docs ", true),
    ("a/b", true),
    ("a/b", false),
    ("a/b/c", false),
    ("a.yml", false),
    ("b.yml", false),
    ("x.yaml", false),
    ("!important", false),
    ("#hash", false),
    ("x/a/b", false),
    (".git", true),
    (".git/HEAD", false),
    (".gitignore", false),
    ("sub/.gitignore", false),
    ("sub/.git", true),
    ("x/.sops.yaml", false),
    (".sops.yaml", false),
    (".github", true),
    (".github/workflows/ci.yaml", false),
    ("x/.github", false),
    ("r.tar.gz", false),
    ("deploy/prod/overlay", true),
    ("deploy/prod/overlay/k.yaml", false),
    ("deploy/kustomization.yaml", false),
    ("deploy/a/b/kustomization.yaml", false),
    ("foo/bar", false),
    ("x/foo/bar", false),
    ("x/foo/y/bar", false),
    ("foo/x/bar", true),
    ("foo/bar", true),
    ("foo/x/bar/f", false),
    ("a/x/y", true),
    ("a", true),
    ("[a", false),
    ("x/[a", false),
];
/// Pattern sets (`domain|pattern`) and, per path of PATHS, 1 when Flux excludes it.
const ORACLE: &[(&[&str], &str)] = &[
    (&["|/*", "|!/deploy"], "001111111111111111111111111111111111111111100001111111111"),
    (&["|/*", "|!/deploy/app.yaml"], "101111111111111111111111111111111111111111111111111111111"),
    (&["|config/", "|!config/keep.yaml"], "000010100000000000000000000000000000000000000000000000000"),
    (&["|*.yaml", "|!kustomization.yaml"], "010001100011000100010000000010000000011010001000000000000"),
    (&["|**/secret*"], "000000000000000000011000000000000000000000000000000000000"),
    (&["|apps/**/test"], "000000000000110000000000000000000000000000000000000000000"),
    (&["|apps/**"], "000000000111111111100000000000000000000000000000000000000"),
    (&["|/apps/*.yaml"], "000000000110000100000000000000000000000000000000000000000"),
    (&["|apps/*.yaml"], "000000000110000100000000000000000000000000000000000000000"),
    (&["|docs/ "], "000100000000000000000100000000000000000000000000000000000"),
    (&["|docs\\ "], "000000000000000000000010000000000000000000000000000000000"),
    (&["|a/b/"], "000000000000000000000001010000000000000000000000000000000"),
    (&["|[abc]*.yml"], "000000000000000000000000001100000000000000000000000000000"),
    (&["|[^a]*.yml"], "000000000000000000000000000100000000000000000000000000000"),
    (&["|*.y?ml"], "010001101111000100010000000010000000011010001110000000000"),
    (&["|\\!important"], "000000000000000000000000000001000000000000000000000000000"),
    (&["|\\#hash"], "000000000000000000000000000000100000000000000000000000000"),
    (&["|!*.md", "|*.md"], "001100000000000000000000000000000000000000000000000000000"),
    (&["|*.md", "|!README.md"], "000000000000000000000000000000000000000000000000000000000"),
    (&["apps|*.yaml"], "000000000111000100000000000000000000000000000000000000000"),
    (&["apps|/base"], "000000000000000010000000000000000000000000000000000000000"),
    (&["apps|!keep.yaml", "|*.yaml"], "010001101111000100010000000010000000011010001110000000000"),
    (&["|*.yaml", "apps|!keep.yaml"], "010001101111000000010000000010000000011010001110000000000"),
    (&["apps/x|**"], "000000000001110001100000000000000000000000000000000000000"),
    (&["|**"], "111111111111111111111111111111111111111111111111111111111"),
    (&["|/"], "000000000000000000000000000000000000000000000000000000000"),
    (&["|a//b"], "000000000000000000000001110000000000000000000000000000000"),
    (&["|**/"], "110111100111111111101111110000011101110111011111111111101"),
    (&["|a/**/"], "000000000000000000001001110000000000000000000000000001100"),
    (&["|[a"], "000000000000000000000000000000000000000000000000000000000"),
    (&["|x/[a"], "000000000000000000000000000000000000000000000000000000000"),
    (
        &["|.git/", "|.gitignore", "|.gitmodules", "|.gitattributes"],
        "000000000000000000000000000000001111100000000000000000000",
    ),
    (&["|**/.sops.yaml"], "000000000000000000000000000000000000011000000000000000000"),
    (&["|.github/"], "000000000000000000000000000000000000000110000000000000000"),
    (&["|*.tar.gz"], "000000000000000000000000000000000000000000100000000000000"),
    (&["|deploy/*/overlay"], "000000000000000000000000000000000000000000011000000000000"),
    (&["|/deploy/**/kustomization.yaml"], "000000000000000000000000000000000000000000000110000000000"),
    (&["|**/foo/bar"], "000000000000000000000000000000000000000000000001100100000"),
    (&["|foo/**/bar/"], "000000000000000000000000000000000000000000000000001110000"),
];

fn matcher_of(set: &[&str]) -> Matcher {
    Matcher::new(
        set.iter()
            .map(|entry| {
                let (domain, pattern) = entry.split_once('|').unwrap();
                let domain: Vec<&str> = if domain.is_empty() { vec![] } else { domain.split('/').collect() };
                Pattern::parse(pattern.as_bytes(), &domain)
            })
            .collect(),
    )
}

#[test]
fn matches_flux_on_the_oracle_table() {
    let mut mismatches = Vec::new();
    for (set, bits) in ORACLE {
        assert_eq!(bits.len(), PATHS.len());
        let m = matcher_of(set);
        for ((path, is_dir), bit) in PATHS.iter().zip(bits.bytes()) {
            let components: Vec<&str> = path.split('/').collect();
            let got = m.is_excluded(&components, *is_dir);
            if got != (bit == b'1') {
                mismatches.push(format!("{set:?} {path:?} dir={is_dir}: flux={} eddy={got}", bit == b'1'));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn default_lists_are_upstreams() {
    assert_eq!(EXCLUDE_VCS.split(',').count(), 4);
    assert_eq!(vcs_patterns::<&str>(&[]).len(), 4);
    assert_eq!(default_patterns::<&str>(&[]).len(), 8 + 9 + 3);
    let m = default_matcher::<&str>(vec![], &[]);
    for (path, dir) in [
        (".git", true),
        ("a/.git/config", false),
        (".gitmodules", false),
        ("img/logo.PNG.png", false),
        ("release.tar.gz", false),
        (".github", true),
        (".circleci", true),
        ("cloudbuild.yaml", false),
        ("x/y/.sops.yaml", false),
        (".flux.yaml", false),
        (".goreleaser.yml", false),
    ] {
        let components: Vec<&str> = path.split('/').collect();
        assert!(m.is_excluded(&components, dir), "{path} must be excluded by default");
    }
    for (path, dir) in [("app.yaml", false), (".gitkeep", false), ("a.JPG", false), (".github", false)] {
        let components: Vec<&str> = path.split('/').collect();
        assert!(!m.is_excluded(&components, dir), "{path} must be kept by default");
    }
}

#[test]
fn read_patterns_skips_comments_and_blank_lines() {
    let text = b"# comment\n\n   \n\t\r\n*.txt\r\n !spaced\n\\#literal\nlast";
    let ps = read_patterns::<&str>(text, &[]);
    let lines: Vec<Pattern> =
        ["*.txt", " !spaced", "\\#literal", "last"].iter().map(|l| Pattern::parse::<&str>(l.as_bytes(), &[])).collect();
    assert_eq!(ps, lines);
    // Unicode white space is blank (Go's TrimSpace), an invalid byte is not.
    assert_eq!(read_patterns::<&str>("\u{a0}\u{2003}\n".as_bytes(), &[]).len(), 0);
    assert_eq!(read_patterns::<&str>(b"\xff\n", &[]).len(), 1);
}

#[test]
fn read_patterns_stops_at_a_line_longer_than_gos_scanner_buffer() {
    let mut text = b"a\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', MAX_LINE));
    text.extend(b"\nb\n");
    assert_eq!(read_patterns::<&str>(&text, &[]).len(), 3, "a line of 65535 bytes is read");
    let mut text = b"a\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
    text.extend(b"\nb\n");
    assert_eq!(read_patterns::<&str>(&text, &[]), vec![Pattern::parse::<&str>(b"a", &[])]);
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn load_scopes_each_file_to_its_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, ".sourceignore", "*.log\n");
    write(root, "apps/.sourceignore", "# scoped\n/local.yaml\n");
    write(root, "apps/b/.sourceignore", "x\n");
    write(root, "apps/a/.sourceignore", "y\n");
    write(root, ".git/.sourceignore", "never-read\n");
    fs::create_dir(root.join("apps/.sourceignore.d")).unwrap();
    std::os::unix::fs::symlink(root.join("apps"), root.join("link")).unwrap();
    let ps = load_ignore_patterns::<&str>(root, &[]).unwrap();
    let expect = vec![
        Pattern::parse::<&str>(b"*.log", &[]),
        Pattern::parse(b"/local.yaml", &["apps"]),
        Pattern::parse(b"y", &["apps", "a"]),
        Pattern::parse(b"x", &["apps", "b"]),
    ];
    assert_eq!(ps, expect, "root first, then subdirectories depth first by name; not .git, not symlinks");
    let m = Matcher::new(ps);
    assert!(m.is_excluded(&["apps", "local.yaml"], false));
    assert!(!m.is_excluded(&["local.yaml"], false));
    assert!(!m.is_excluded(&["apps", "sub", "local.yaml"], false));
    assert!(m.is_excluded(&["apps", "sub", "x.log"], false));
    assert!(m.is_excluded(&["apps", "b", "x"], false));
    assert!(!m.is_excluded(&["apps", "a", "x"], false));
}

#[test]
fn ignore_file_that_is_a_directory_has_no_patterns() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join(".sourceignore")).unwrap();
    write(tmp.path(), ".sourceignore/.sourceignore", "inner\n");
    let ps = load_ignore_patterns::<&str>(tmp.path(), &[]).unwrap();
    assert_eq!(ps, vec![Pattern::parse(b"inner", &[".sourceignore"])]);
}

#[test]
fn gitrepository_matcher_uses_defaults_only_without_user_patterns() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // No user pattern: VCS + defaults.
    let m = gitrepository_matcher(root, None).unwrap();
    assert!(m.is_excluded(&["logo.png"], false));
    assert!(m.is_excluded(&[".git"], true));
    // A spec.ignore of comments only adds no pattern: the defaults stay.
    let m = gitrepository_matcher(root, Some("# nothing\n\n")).unwrap();
    assert!(m.is_excluded(&["logo.png"], false));
    // Any user pattern drops the non-VCS defaults.
    let m = gitrepository_matcher(root, Some("*.md")).unwrap();
    assert!(!m.is_excluded(&["logo.png"], false));
    assert!(m.is_excluded(&["README.md"], false));
    assert!(m.is_excluded(&[".git"], true));
    // spec.ignore has priority over the .sourceignore files, which have priority over VCS.
    write(root, ".sourceignore", "!.gitignore\n*.yaml\n");
    let m = gitrepository_matcher(root, Some("!keep.yaml")).unwrap();
    assert!(!m.is_excluded(&["logo.png"], false));
    assert!(m.is_excluded(&["a.yaml"], false));
    assert!(!m.is_excluded(&["keep.yaml"], false));
    assert!(!m.is_excluded(&[".gitignore"], false));
    assert!(m.is_excluded(&[".git", "HEAD"], false));
}
