//! The template engine against Go's documented `text/template` behaviour, without Helm.

use std::rc::Rc;

use eddy_helm_template::Value;
use eddy_helm_template::funcs;
use eddy_helm_template::template::exec::{Exec, TemplateSet};
use eddy_helm_template::template::parse::parse;

fn run_with(text: &str, data: &Value, strict: bool) -> Result<String, String> {
    let parsed = parse("t", text, &funcs::exists).map_err(|e| e.0)?;
    let mut set = TemplateSet::new();
    for t in parsed.defined {
        set.insert(t.name.to_string(), std::sync::Arc::new(t));
    }
    let mut exec = Exec::new(Rc::new(set), strict);
    exec.execute_tree(&parsed.main, data).map_err(|e| e.message)
}

fn run(text: &str) -> String {
    run_with(text, &Value::empty_map(), false).unwrap_or_else(|e| format!("ERROR: {e}"))
}

#[test]
fn range_over_integers_with_break_and_continue() {
    assert_eq!(
        run(
            "{{ range $i := 6 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ if eq $i 4 }}{{ break }}{{ end }}{{ $i }}{{ end }}"
        ),
        "023"
    );
    assert_eq!(run("{{ range 0 }}x{{ else }}empty{{ end }}"), "empty");
}

#[test]
fn variables_are_scoped_to_their_block() {
    assert_eq!(run("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"), "21");
    assert_eq!(run("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"), "2");
}

#[test]
fn and_or_short_circuit() {
    // The second operand would fail (nil pointer) if it were evaluated.
    assert_eq!(run("{{ or 1 .a.b }}|{{ and 0 .a.b }}"), "1|0");
}

#[test]
fn missing_keys_follow_the_missingkey_option() {
    assert_eq!(run("[{{ .nope }}]"), "[<no value>]");
    let strict = run_with("{{ .nope }}", &Value::empty_map(), true);
    assert_eq!(strict, Err("template: t:1:3: executing \"t\" at <.nope>: map has no entry for key \"nope\"".into()));
}

#[test]
fn else_with_and_else_if_chains() {
    assert_eq!(run("{{ with 0 }}a{{ else with \"\" }}b{{ else with 3 }}{{ . }}{{ end }}"), "3");
    assert_eq!(run("{{ if 0 }}a{{ else if 1 }}b{{ else }}c{{ end }}"), "b");
}

#[test]
fn define_template_and_block() {
    assert_eq!(
        run("{{ define \"x\" }}<{{ . }}>{{ end }}{{ template \"x\" 5 }}{{ block \"y\" 6 }}[{{ . }}]{{ end }}"),
        "<5>[6]"
    );
}

#[test]
fn go_value_formatting() {
    assert_eq!(
        run("{{ 1e6 }} {{ 0.5 }} {{ list 1 \"a\" nil }} {{ dict \"b\" 1 \"a\" 2 }}"),
        "1e+06 0.5 [1 a <nil>] map[a:2 b:1]"
    );
    assert_eq!(run("{{ printf \"%5.1f|%-3d|%x\" 3.14159 7 \"hi\" }}"), "  3.1|7  |6869");
}

#[test]
fn comparisons_follow_go_kinds() {
    assert_eq!(run("{{ eq 1 1 2 }} {{ lt 1.5 2.5 }} {{ eq \"a\" \"a\" }}"), "true true true");
    assert!(run("{{ lt 1 1.5 }}").contains("incompatible types for comparison"));
}

#[test]
fn runaway_ranges_fail_instead_of_exhausting_memory() {
    let r = run(
        "{{ range 1000000000 }}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{{ end }}",
    );
    assert!(r.contains("rendered output exceeds"), "{}", &r[..r.len().min(200)]);
}
