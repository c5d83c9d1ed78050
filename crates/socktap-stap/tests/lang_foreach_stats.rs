//! foreach (forms, sorting, limit) and statistics (aggregates and the
//! histograms printed exactly as stap prints them), with exact output.

mod common;
use common::*;

const FILL: &str = r#"global a
probe begin { a["b"] = 2; a["a"] = 3; a["d"] = 1; a["c"] = 3 }"#;

fn each(body: &str) -> String {
    out(&format!("{FILL}\nprobe end {{ {body} }}"))
}

#[test]
fn foreach_forms() {
    assert_eq!(
        each(r#"foreach (k in a) printf("%s%d ", k, a[k])"#),
        "b2 a3 d1 c3 "
    );
    assert_eq!(each(r#"foreach ([k] in a) printf("%s ", k)"#), "b a d c ");
    assert_eq!(
        each(r#"foreach (v = [k] in a) printf("%s=%d ", k, v)"#),
        "b=2 a=3 d=1 c=3 "
    );
    assert_eq!(
        each(r#"foreach (v = k in a) printf("%s=%d ", k, v)"#),
        "b=2 a=3 d=1 c=3 "
    );
}

#[test]
fn foreach_sorted_by_value_and_key() {
    // Ties keep insertion order (stap's merge sort is stable).
    assert_eq!(each(r#"foreach (k in a+) printf("%s ", k)"#), "d b a c ");
    assert_eq!(each(r#"foreach (k in a-) printf("%s ", k)"#), "a c b d ");
    assert_eq!(each(r#"foreach (k+ in a) printf("%s ", k)"#), "a b c d ");
    assert_eq!(each(r#"foreach (k- in a) printf("%s ", k)"#), "d c b a ");
    assert_eq!(
        each(r#"foreach (v- = k in a) printf("%d ", v)"#),
        "3 3 2 1 "
    );
}

#[test]
fn foreach_sorted_by_one_of_several_keys() {
    let s = r#"global a
    probe begin { a[2, "x"] = 10; a[1, "z"] = 30; a[3, "y"] = 20 }
    probe end {
        foreach ([n, s-] in a) printf("%d%s ", n, s)
        print("| ")
        foreach ([n+, s] in a) printf("%d%s ", n, s)
        print("| ")
        foreach ([n, s] in a-) printf("%d ", a[n, s])
    }"#;
    assert_eq!(out(s), "1z 3y 2x | 1z 2x 3y | 30 20 10 ");
}

#[test]
fn foreach_limit_is_evaluated_once() {
    let s = r#"global a, lim = 2
    function next_limit() { lim++; return lim }
    probe begin { for (i = 0; i < 10; i++) a[i] = i * i }
    probe end {
        foreach (k in a- limit next_limit()) printf("%d ", k)
        foreach (k in a limit 3) printf("%d ", k)
        printf("| %d\n", lim)
    }"#;
    // The sort reorders the array itself: the unsorted foreach after it
    // starts with the top three, as in stap.
    assert_eq!(out(s), "9 8 7 9 8 7 | 3\n");
}

#[test]
fn foreach_over_a_slice() {
    let s = r#"global a
    probe begin { a[1, "x"] = 1; a[2, "x"] = 2; a[1, "y"] = 3 }
    probe end { foreach ([n, s] in a[1, *]) printf("%d%s ", n, s) foreach ([n, s] in a[*, "x"]) printf("%d%s ", n, s) }"#;
    assert_eq!(out(s), "1x 1y 1x 2x ");
}

#[test]
fn foreach_break_continue_and_sorted_order_persists() {
    let s = r#"global a
    probe begin { a[3] = 1; a[1] = 2; a[2] = 3 }
    probe end {
        foreach (k in a) { if (k == 1) continue; if (k == 2) break; printf("%d ", k) }
        foreach (k+ in a) printf("%d ", k)
        // stap sorts the array itself: an unsorted foreach now sees that order.
        foreach (k in a) printf("%d ", k)
    }"#;
    assert_eq!(out(s), "3 1 2 3 1 2 3 ");
}

#[test]
fn statistics_aggregates() {
    let s = r#"global s, t
    probe begin {
        s <<< 1; s <<< 2; s <<< 3; s <<< 10
        printf("%d %d %d %d %d %d\n", @count(s), @sum(s), @min(s), @max(s), @avg(s), @variance(s))
        printf("%d %d\n", @count(t), @sum(t))
        t <<< -5
        printf("%d %d %d %d\n", @min(t), @max(t), @avg(t), @variance(t))
    }"#;
    // stap keeps the variance's running mean as an integer: 23, not 16.67.
    assert_eq!(out(s), "4 16 1 10 4 23\n0 0\n-5 -5 -5 0\n");
}

#[test]
fn statistics_arrays_and_sorting_by_aggregates() {
    let s = r#"global lat
    probe begin {
        lat["a"] <<< 100; lat["a"] <<< 300
        lat["b"] <<< 1000
        lat["c"] <<< 1; lat["c"] <<< 1; lat["c"] <<< 1
    }
    probe end {
        foreach (k in lat-) printf("%s:%d ", k, @count(lat[k]))
        print("| ")
        foreach (k in lat @sum -) printf("%s:%d ", k, @sum(lat[k]))
        print("| ")
        foreach (k in lat @max +) printf("%s ", k)
        print("| ")
        foreach (k in lat @avg -) printf("%s:%d ", k, @avg(lat[k]))
        printf("| %d %d\n", @count(lat["none"]), @sum(lat["none"]))
    }"#;
    assert_eq!(
        out(s),
        "c:3 a:2 b:1 | b:1000 a:400 c:3 | c a b | b:1000 a:200 c:1 | 0 0\n"
    );
}

#[test]
fn variance_with_a_bit_shift() {
    let s = r#"global s
    probe begin { s <<< 1; s <<< 2; s <<< 3; s <<< 10; printf("%d\n", @variance(s, 4)) }"#;
    assert_eq!(out(s), "16\n");
}

/// One histogram row as stap lays it out: the label right-aligned in
/// `space`, `|`, the bar, and the count right-aligned after a 50-wide bar.
fn row(space: usize, label: &str, count: usize, scale: usize, cnt_space: usize) -> String {
    let bar = count / scale;
    let w = 50 - bar + 1 + cnt_space;
    format!("{label:>space$} |{}{count:>w$}\n", "@".repeat(bar))
}

fn header(space: usize) -> String {
    format!("{:>space$} |{} count\n", "value", "-".repeat(50))
}

/// A whole histogram of single-digit counts (scale 1): header, rows, and
/// the blank line stap ends it with.
fn hist(space: usize, rows: &[(&str, usize)]) -> String {
    let mut want = header(space);
    for (label, n) in rows {
        want.push_str(&row(space, label, *n, 1, 1));
    }
    want.push('\n');
    want
}

#[test]
fn hist_log_prints_like_stap() {
    let s = r#"global s
    probe begin { s <<< 1; s <<< 2; s <<< 2; s <<< 3; s <<< 8; s <<< 64 }
    probe end { print(@hist_log(s)) }"#;
    let want = hist(
        5,
        &[
            ("0", 0),
            ("1", 1),
            ("2", 3),
            ("4", 0),
            ("8", 1),
            ("16", 0),
            ("32", 0),
            ("64", 1),
            ("128", 0),
            ("256", 0),
        ],
    );
    assert_eq!(out(s), want);
    // The literal layout, once, for the eye.
    assert!(want.contains("    2 |@@@                                                3\n"));
}

#[test]
fn hist_log_elides_zero_rows_and_scales_wide_counts() {
    let s = r#"global s
    probe begin { for (i = 0; i < 120; i++) s <<< 5; s <<< 100000 }
    probe end { println(@hist_log(s)) }"#;
    // 120 is more than 50 wide: each @ stands for 3. Rows more than two
    // from any count are elided, with a ~ where they were.
    let mut want = header(6);
    for (label, n) in [("1", 0), ("2", 0), ("4", 120), ("8", 0), ("16", 0)] {
        want.push_str(&row(6, label, n, 3, 3));
    }
    want.push_str("       ~\n");
    for (label, n) in [
        ("16384", 0),
        ("32768", 0),
        ("65536", 1),
        ("131072", 0),
        ("262144", 0),
    ] {
        want.push_str(&row(6, label, n, 3, 3));
    }
    want.push('\n');
    assert_eq!(out(s), want);
}

#[test]
fn hist_log_of_negative_values() {
    let s = r#"global s
    probe begin { s <<< -3; s <<< 0; s <<< 4 }
    probe end { print(@hist_log(s)) }"#;
    let want = hist(
        5,
        &[
            ("-8", 0),
            ("-4", 0),
            ("-2", 1),
            ("-1", 0),
            ("0", 1),
            ("1", 0),
            ("2", 0),
            ("4", 1),
            ("8", 0),
            ("16", 0),
        ],
    );
    assert_eq!(out(s), want);
}

#[test]
fn hist_linear_prints_like_stap() {
    let s = r#"global s
    probe begin { s <<< 0; s <<< 15; s <<< 15; s <<< 42; s <<< 99 }
    probe end { print(@hist_linear(s, 0, 100, 10)) }"#;
    let want = hist(
        5,
        &[
            ("0", 1),
            ("10", 2),
            ("20", 0),
            ("30", 0),
            ("40", 1),
            ("50", 0),
            ("60", 0),
            ("70", 0),
            ("80", 0),
            ("90", 1),
            ("100", 0),
        ],
    );
    assert_eq!(out(s), want);
}

#[test]
fn hist_linear_underflow_and_overflow_rows() {
    let s = r#"global s
    probe begin { s <<< -7; s <<< 5; s <<< 1000 }
    probe end { print(@hist_linear(s, 0, 30, 10)) }"#;
    let want = hist(
        5,
        &[
            ("<0", 1),
            ("0", 1),
            ("10", 0),
            ("20", 0),
            ("30", 0),
            (">30", 1),
        ],
    );
    assert_eq!(out(s), want);
}

#[test]
fn histograms_of_array_elements_and_into_strings() {
    let s = r#"global h
    probe begin { h["x"] <<< 4 }
    probe end { foreach (k in h) { print(k); print(@hist_log(h[k])) } t = sprint(@hist_log(h["x"])); printf("%d\n", strlen(t) > 0) }"#;
    let o = out(s);
    assert!(o.starts_with("xvalue |"), "{o}");
    assert!(o.contains("    4 |@"), "{o}");
    assert!(o.ends_with("\n1\n"), "{o}");
}
