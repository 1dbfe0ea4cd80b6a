//! Table-driven cases re-expressing the upstream envsubst suite's behaviours.

use std::collections::BTreeMap;

use super::*;

fn run(vars: &[(&str, &str)], input: &str, strict: bool) -> Result<String, EvalError> {
    let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    eval(input, &|name| match vars.get(name) {
        Some(v) => Some(v.clone()),
        None if strict => None,
        None => Some(String::new()),
    })
}

#[test]
fn expansions() {
    let path = "/srv/data/reports/q3.summary.csv";
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (&[], "plain text 42", "plain text 42"),
        (&[("word", "heLLo7x")], "${#word}", "7"),
        (&[("word", "heLLo7x")], "${word^}", "HeLLo7x"),
        (&[("word", "heLLo7x")], "${word^^}", "HELLO7X"),
        (&[("word", "HELLO")], "${word,}", "hELLO"),
        (&[("word", "HELLO")], "${word,,}", "hello"),
        (&[("p", path)], "${p:5}", "data/reports/q3.summary.csv"),
        (&[("p", path)], "${p:5:4}", "data"),
        // `:-` is the default operator, never a negative offset (Go's Atoi refuses " -3" too);
        // a negative offset can only come from a nested expansion.
        (&[("p", path)], "${p:-3}", path),
        (&[("p", path), ("n", "-3")], "${p:${n}}", "csv"),
        (&[("p", "abcdef")], "${p:1:-2}", "bcd"),
        (&[("p", "abc")], "${p:9}", ""),
        (&[("set", "kept")], "${set=other}", "kept"),
        (&[], "${unset=other}", "other"),
        (&[], "${unset:=other}", "other"),
        (&[], "${unset:-other}", "other"),
        (&[("empty", "")], "${empty:-fallback}", "fallback"),
        (&[], "${unset:?used as default}", "used as default"),
        (&[("fb", "bar")], "x ${unset=${fb}}", "x bar"),
        (&[("fb", "bar")], "k: ${unset=${fb}-tail}", "k: bar-tail"),
        (&[("fb", "bar")], "k: ${unset=head${fb}-tail}", "k: headbar-tail"),
        (&[("fb", "bar")], "${unset=${fb^^}}", "BAR"),
        (&[("s", "xyXYxy")], "${s/%xy/Z}", "xyXYZ"),
        (&[("s", "xyXYxy")], "${s/#xy/Z}", "ZXYxy"),
        (&[("s", "xyXYxy")], "${s//xy/z}", "zXYz"),
        (&[("s", "xyXYxy")], "${s/xy/z}", "zXYxy"),
        (&[("s", "a/b/c")], r"${s/\//-}", "a-b/c"),
        (&[("s", "a/b/c")], r"${s//\//-}", "a-b-c"),
        (&[("s", "a.b")], "${s/./}", "ab"),
        (&[("f", "one.two.txt")], "${f#*.}", "two.txt"),
        (&[("f", "one.two.txt")], "${f##*.}", "txt"),
        (&[("f", "one.two.txt")], "${f%.*}", "one.two"),
        (&[("f", "one.two.txt")], "${f%%.*}", "one"),
        (&[("f", "/a/b")], "${f#*/}", "a/b"),
        (&[("f", "/a/b")], "${f##*/}", "b"),
        (&[("v", "val")], "$${v}", "${v}"),
        (&[("v", "val")], "a ${v}$${w$${v}$v${v}", "a val${w${v}$vval"),
        (&[("d", "foo")], "x $${w=${d}}", "x ${w=foo}"),
        (&[("d", "foo")], "\\\\x ${w=${d}}", "\\\\x foo"),
        (&[("v", "val")], "$v and $ alone and ${v}", "$v and $ alone and val"),
        (&[("v", "")], "${v}", ""),
        (&[], "${unset}", ""),
        (&[("v", "x")], "${v}${v}", "xx"),
        (&[("ünï", "u")], "${ünï}", "u"),
    ];
    for (vars, input, want) in cases {
        assert_eq!(run(vars, input, false).as_deref(), Ok(*want), "{input}");
    }
}

#[test]
fn strict_mode_fails_on_unset_variables_without_a_default() {
    for input in [
        "${missing}",
        "${#missing}",
        "${missing^}",
        "${missing^^}",
        "${missing,}",
        "${missing,,}",
        "${missing:0}",
        "${missing:0:10}",
        "${missing/a/b}",
        "${missing//a/b}",
        "${missing/#a/b}",
        "${missing/%a/b}",
        "${missing#a}",
        "${missing##a}",
        "${missing%a}",
        "${missing%%a}",
    ] {
        let err = run(&[], input, true).expect_err(input);
        assert_eq!(err, EvalError::NotSet("missing".into()), "{input}");
        assert_eq!(err.to_string(), r#"variable not set (strict mode): "missing""#);
    }
    for (input, want) in [
        ("${missing:-fallback}", "fallback"),
        ("${missing:=assigned}", "assigned"),
        ("${missing=assigned}", "assigned"),
        ("${missing:+alt}", "alt"),
        ("${missing:?msg}", "msg"),
    ] {
        assert_eq!(run(&[], input, true).as_deref(), Ok(want), "{input}");
    }
    assert_eq!(run(&[("set", "")], "${set}", true).as_deref(), Ok(""));
}

#[test]
fn malformed_expressions() {
    let cases: &[(&str, ParseError)] = &[
        ("${}", ParseError::VariableName),
        ("${VAR", ParseError::MissingClosingBrace),
        ("${VAR-x}", ParseError::MissingClosingBrace),
        ("${VAR:}", ParseError::FuncSubstitution),
        ("${VAR:=x", ParseError::FuncSubstitution),
        ("${VAR^x}", ParseError::BadSubstitution),
        ("${#}", ParseError::BadSubstitution),
    ];
    for (input, want) in cases {
        assert_eq!(run(&[("VAR", "v")], input, false), Err(EvalError::Parse(*want)), "{input}");
    }
}
