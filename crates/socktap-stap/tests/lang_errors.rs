//! Scripts refused, with stap's messages (file:line:column, the source
//! line and a caret), and runtime errors, with stap's words.

mod common;
use common::*;

#[test]
fn unknown_probe_names_the_nearest() {
    assert_eq!(
        compile_error("probe socket.recv { }"),
        concat!(
            "semantic error: while resolving probe point: identifier 'socket' at <input>:1:7\n",
            "        source: probe socket.recv { }\n",
            "                      ^\n",
            "\n",
            "semantic error: probe point mismatch (similar: readv, receive, recvmsg, send, create): identifier 'recv' at :1:14\n",
            "        source: probe socket.recv { }\n",
            "                             ^\n",
            "\n",
            "Pass 2: analysis failed.  [man error::pass2]\n",
        )
    );
    let e = compile_error("probe sockett.send { }");
    assert!(e.contains("probe point mismatch (similar: socket"), "{e}");
    let e = compile_error("probe socket.nosuch* { }");
    assert!(
        e.contains("probe point mismatch: didn't find any wildcard matches"),
        "{e}"
    );
    let e = compile_error("probe timer.us(5) { }");
    assert!(
        e.contains("semantic error: interval value out of range (100, 86400000000)"),
        "{e}"
    );
}

#[test]
fn optional_probe_points_may_not_resolve() {
    let c = compiled("probe socket.nosuch ?, begin { print(1) }", &[]);
    assert_eq!(c.program.handlers[0].points.len(), 1);
    let c = compiled("probe socket.send !, socket.receive { }", &[]);
    assert_eq!(
        c.program.handlers[0].points.len(),
        1,
        "the ! point suffices"
    );
}

#[test]
fn unknown_variable_lists_the_probes_variables() {
    assert_eq!(
        compile_error("probe socket.send { printf(\"%d\\n\", daddr) }"),
        concat!(
            "semantic error: unresolved variable 'daddr' in probe socket.send (similar: name, family, flags, size, state); its variables: name size protocol family state flags type success: identifier 'daddr' at <input>:1:36\n",
            "        source: probe socket.send { printf(\"%d\\n\", daddr) }\n",
            "                                                   ^\n",
            "\n",
            "Pass 2: analysis failed.  [man error::pass2]\n",
        )
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        compile_error("probe begin { x = 1 + }"),
        concat!(
            "parse error: expected literal string or number\n",
            "        saw: operator '}' at <input>:1:23\n",
            "     source: probe begin { x = 1 + }\n",
            "                                   ^\n",
            "\n",
            "1 parse error.\n",
            "Pass 1: parse failed.  [man error::pass1]\n",
        )
    );
    // Every error is reported: the parser resumes at the next declaration.
    let e = compile_error("probe begin { if x }\nglobal 7\nprobe end { print(1) }");
    assert!(
        e.contains("parse error: expected '('\n        saw: identifier 'x' at <input>:1:18\n"),
        "{e}"
    );
    assert!(
        e.contains("parse error: expected identifier\n        saw: number '7' at <input>:2:8\n"),
        "{e}"
    );
    assert!(
        e.ends_with("2 parse errors.\nPass 1: parse failed.  [man error::pass1]\n"),
        "{e}"
    );
    // A lexer complaint is reported where the bad token starts.
    let e = compile_error("probe end { print(\"unclosed) }");
    assert!(e.starts_with("parse error: Could not find matching closing quote\n         at: junk '\"unclosed) }' at <input>:1:19\n"), "{e}");
    for (script, msg) in [
        (
            "probe begin { return 1 }",
            "found 'return' not in function context",
        ),
        (
            "probe begin { foreach (x in) print(1) }",
            "expected identifier or statistical operation",
        ),
        ("function f(a, a) { }", "duplicate parameter names"),
        ("global g, g", "duplicate global name"),
        (
            "foo",
            "expected 'probe', 'global', 'private', 'function', or '%{'",
        ),
        (
            "probe begin { %( 1 == 1 %? print(1) }",
            "incomplete conditional at end of file",
        ),
        ("probe begin %{ x %}", "expected one of ', { } = +='"),
        ("probe begin { @nothing(1) }", "unknown operator @nothing"),
        (
            "probe begin { print($9) }",
            "command line argument out of range [1-0]",
        ),
    ] {
        let e = compile_error(script);
        assert!(
            e.starts_with(&format!("parse error: {msg}\n")),
            "{script}:\n{e}"
        );
    }
}

#[test]
fn type_conflicts_name_both_uses() {
    assert_eq!(
        compile_error("probe begin { x = 1; x = \"a\" }"),
        concat!(
            "semantic error: type mismatch (string): identifier 'x' at <input>:1:22\n",
            "        source: probe begin { x = 1; x = \"a\" }\n",
            "                                     ^\n",
            "\n",
            "semantic error: type was first inferred here (long): identifier 'x' at :1:15\n",
            "        source: probe begin { x = 1; x = \"a\" }\n",
            "                              ^\n",
            "\n",
            "Pass 2: analysis failed.  [man error::pass2]\n",
        )
    );
    let e = compile_error("global a probe begin { a[1] = 1 } probe end { a[\"k\"] = 2 }");
    assert!(
        e.contains(
            "semantic error: index 0 type mismatch (string): identifier 'a' at <input>:1:47\n"
        ),
        "{e}"
    );
    assert!(e.contains("semantic error: type of index 0 was first inferred here (long): identifier 'a' at :1:24\n"), "{e}");
    let e = compile_error("function f(n) { return n } probe begin { f(1); f(\"s\") }");
    assert!(e.contains("index 0 type mismatch (string)"), "{e}");
    let e = compile_error("probe begin { if (\"s\" == 1) print(1) }");
    assert!(
        e.contains(
            "type mismatch: left and right sides don't agree (string vs long): operator '=='"
        ),
        "{e}"
    );
    let e = compile_error("probe begin { x = \"s\" + 1 }");
    assert!(
        e.contains("type mismatch: expected long but found string: string 's'"),
        "{e}"
    );
}

#[test]
fn other_semantic_errors() {
    for (script, msg) in [
        ("probe begin { foo() }", "semantic error: unresolved function foo (similar:"),
        ("global a probe begin { a[1] = 1; a[1, 2] = 2 }", "semantic error: inconsistent arity (1 vs 2): identifier 'a'"),
        ("global a probe begin { a[1] = 1; a = 2 }", "semantic error: inconsistent arity (1 vs 0)"),
        ("probe begin { x[1] = 1 }", "semantic error: unresolved arity-1 global array x, missing global declaration?"),
        ("probe begin { s <<< 1 }", "semantic error: stat locals not supported, missing global declaration? "),
        ("global s probe begin { s <<< 1; print(s) }", "semantic error: cannot print a raw stats object"),
        ("global s probe begin { s <<< 1; x = s + 1 }", "semantic error: type mismatch (long)"),
        ("probe begin { print(x) }", "semantic error: unresolved type : identifier 'x'"),
        ("probe begin { print($pid) }", "semantic error: target variable $pid is not supported by socktap"),
        ("global s probe begin { s <<< 1; print(@hist_log(s)); print(@hist_linear(s, 0, 10, 1)) }", "semantic error: multiple histogram types declared on a statistic"),
        ("global s probe begin { s <<< 1; print(@hist_linear(s, 0, 10, 0)) }", "semantic error: histogram: interval cannot be zero."),
        ("function f() { next } probe begin { f() }", "semantic error: next statement only allowed in probe handlers"),
        ("global x", "semantic error: no probes found"),
        ("probe begin { x = exit() }", "semantic error: function returns no value"),
    ] {
        let e = compile_error(script);
        assert!(e.contains(msg), "{script}:\n{e}");
        assert!(e.ends_with("Pass 2: analysis failed.  [man error::pass2]\n"), "{e}");
    }
}

#[test]
fn warnings_are_stap_style_and_w_silences_them() {
    let c = compiled("global unused probe begin { print(y) y = 0 }", &[]);
    assert!(c.warnings.contains("WARNING: Eliding unused variable 'unused': identifier 'unused' at <input>:1:8\n source: global unused probe begin { print(y) y = 0 }\n                ^\n"), "{}", c.warnings);
    let c = compiled("probe begin { print(y + 1) }", &[]);
    assert!(
        c.warnings
            .contains("WARNING: never-assigned local variable 'y'"),
        "{}",
        c.warnings
    );
    let quiet = socktap_stap::Options {
        warnings: false,
        ..Default::default()
    };
    let src = vec![socktap_stap::source::Source {
        name: "<input>".into(),
        text: b"probe begin { print(y + 1) }".to_vec(),
    }];
    assert_eq!(socktap_stap::compile(src, &quiet).unwrap().warnings, "");
}

#[test]
fn runtime_division_by_zero() {
    let r = run("probe begin { x = 0; printf(\"%d\\n\", 10 / x) }", &[]);
    assert_eq!(r.out, "");
    assert_eq!(
        r.err,
        "ERROR: division by 0 near operator '/' at <input>:1:40\n"
    );
    assert!(r.failed);
    let r = run("probe begin { x = 0; y = 7; y %= x }", &[]);
    assert_eq!(
        r.err,
        "ERROR: division by 0 near operator '%=' at <input>:1:31\n"
    );
}

#[test]
fn runtime_empty_aggregates() {
    for (op, col) in [("@min", 30), ("@max", 30), ("@avg", 30), ("@variance", 30)] {
        let r = run(
            &format!("global s probe begin {{ print({op}(s)) }} probe end {{ s <<< 1 }}"),
            &[],
        );
        assert_eq!(
            r.err,
            format!("ERROR: empty aggregate near operator '{op}' at <input>:1:{col}\n")
        );
    }
    let r = run(
        "global s probe begin { if (0) s <<< 1; print(@hist_log(s)) }",
        &[],
    );
    assert_eq!(
        r.err,
        "ERROR: empty aggregate near operator '@hist_log' at <input>:1:46\n"
    );
    // @count and @sum of an empty or absent statistic are 0.
    assert_eq!(out("global s, a probe begin { if (0) { s <<< 1; a[1] <<< 1 } printf(\"%d %d %d\\n\", @count(s), @sum(s), @sum(a[2])) }"), "0 0 0\n");
}

#[test]
fn runtime_array_overflow() {
    let r = run_full(
        "global a[3] probe begin { for (i = 0; i < 5; i++) a[i] = 1 }",
        &[],
        &[],
        0,
        Default::default(),
    );
    assert_eq!(
        r.err,
        "ERROR: Array overflow, check size limit (3) near identifier 'a' at <input>:1:51\n"
    );
    let r = run_limited(
        "global s probe begin { for (i = 0; i < 5; i++) s[i] <<< 1 }",
        socktap_stap::interp::Limits {
            maxmapentries: 4,
            ..Default::default()
        },
    );
    assert_eq!(
        r.err,
        "ERROR: Array overflow, check MAXMAPENTRIES near identifier 's' at <input>:1:48\n"
    );
}
