//! The checklist's "Language" section, construct by construct, with exact
//! output: literals, comments, preprocessor conditionals, operators,
//! statements, globals and locals.

mod common;
use common::*;

#[test]
fn integer_literals_decimal_hex_octal_64_bit() {
    assert_eq!(
        out(
            r#"probe begin { printf("%d %d %d %d %d\n", 42, 0x2a, 052, 0x7fffffffffffffff, -9223372036854775808) }"#
        ),
        "42 42 42 9223372036854775807 -9223372036854775808\n"
    );
    // Above i64::MAX a literal wraps, as stap's strtoull does.
    assert_eq!(
        out(r#"probe begin { printf("%d\n", 0xffffffffffffffff) }"#),
        "-1\n"
    );
}

#[test]
fn string_literals_with_c_escapes() {
    assert_eq!(
        out(r#"probe begin { printf("%s|", "a\tb\\c\"d\x41\101\n") }"#),
        "a\tb\\c\"dAA\n|"
    );
    // Adjacent literals are one string.
    assert_eq!(out(r#"probe begin { print("ab" "cd" "\n") }"#), "abcd\n");
}

#[test]
fn comments_of_three_kinds() {
    let script = "# shell comment\nprobe begin { // C++ comment\n x = 1 /* C comment\n over lines */ + 2\n print(x) # end\n}";
    assert_eq!(out(script), "3");
}

#[test]
fn preprocessor_on_kernel_version_arch_and_arguments() {
    // The test options say kernel 6.1.0 on x86_64.
    let s = r#"probe begin {
        %( kernel_v >= "5.10" %? print("new ") %: print("old ") %)
        %( kernel_vr == "6.1*" %? print("vr ") %)
        %( arch == "x86_64" && arch != "arm*" %? print("x86 ") %: print("other ") %)
        %( $# == 2 %? printf("two:%s ", @2) %: print("not two ") %)
        %( @# == "2" || kernel_v < "2.6" %? print("at ") %)
        %( kernel_v < "4.0" %? %( arch == "x86_64" %? print("nested ") %) %: print("else") %)
    }"#;
    let r = run_full(s, &["a", "b"], &[], 0, Default::default());
    assert_eq!(r.out, "new vr x86 two:b at else");
}

#[test]
fn arithmetic_and_bitwise_operators() {
    let s = r#"probe begin {
        printf("%d %d %d %d %d\n", 7 + 3, 7 - 10, 7 * 3, -7 / 2, -7 % 3)
        printf("%d %d %d %d %d %d\n", 1 << 4, -16 >> 2, 6 & 3, 6 | 3, 6 ^ 3, ~0)
        printf("%d %d %d %d\n", -5, +5, - -5, !0 + !7)
        printf("%d %d\n", 9223372036854775807 + 1, -16 >>> 60)
    }"#;
    assert_eq!(
        out(s),
        "10 -3 21 -3 -1\n16 -4 2 7 5 -1\n-5 5 5 1\n-9223372036854775808 15\n"
    );
}

#[test]
fn precedence_follows_stap() {
    let s = r#"probe begin {
        printf("%d %d %d %d\n", 1 + 2 * 3, (1 + 2) * 3, 1 | 2 & 3, 1 + 1 == 2)
        printf("%d %d %s\n", 1 < 2 && 3 < 4 || 0, 2 + 3 << 1, "a" . "b" . "c")
        x = 1 ? 2 : 3 ? 4 : 5
        print(x)
    }"#;
    assert_eq!(out(s), "7 9 3 1\n1 10 abc\n2");
}

#[test]
fn logical_operators_short_circuit() {
    let s = r#"global n
    function bump() { n++; return 1 }
    probe begin { a = 0 && bump(); b = 1 || bump(); c = 1 && bump(); printf("%d %d %d %d\n", a, b, c, n) }"#;
    assert_eq!(out(s), "0 1 1 1\n");
}

#[test]
fn comparisons_on_numbers_and_strings() {
    let s = r#"probe begin {
        printf("%d%d%d%d%d%d\n", 1 == 1, 1 != 1, 1 < 2, 2 <= 2, 3 > 2, 2 >= 3)
        printf("%d%d%d%d\n", "abc" == "abc", "abc" < "abd", "b" > "abc", "" < "a")
        printf("%d\n", -1 < 0)
    }"#;
    assert_eq!(out(s), "101110\n1111\n1\n");
}

#[test]
fn ternary_and_concatenation() {
    let s = r#"probe begin {
        s = "x" . (1 > 0 ? "yes" : "no") . sprint(42)
        s .= "!"
        println(s)
    }"#;
    assert_eq!(out(s), "xyes42!\n");
}

#[test]
fn compound_assignments() {
    let s = r#"probe begin {
        a = 100; a += 5; printf("%d ", a); a -= 10; printf("%d ", a); a *= 2; printf("%d ", a)
        a /= 7; printf("%d ", a); a %= 10; printf("%d ", a); a <<= 3; printf("%d ", a)
        a >>= 1; printf("%d ", a); a &= 6; printf("%d ", a); a |= 9; printf("%d ", a); a ^= 3; printf("%d\n", a)
        b = c = 7
        printf("%d %d\n", b, c)
    }"#;
    assert_eq!(out(s), "105 95 190 27 7 56 28 4 13 14\n7 7\n");
}

#[test]
fn increments_prefix_and_postfix() {
    let s = r#"global g, arr
    probe begin {
        i = 5; printf("%d %d ", i++, i); printf("%d %d ", ++i, i); printf("%d %d ", i--, --i)
        g++; ++g; arr["k"]++; arr["k"] += 2; --arr["j"]
        printf("%d %d %d\n", g, arr["k"], arr["j"])
    }"#;
    assert_eq!(out(s), "5 6 7 7 7 5 2 3 -1\n");
}

#[test]
fn membership_with_one_and_several_keys() {
    let s = r#"global a, b
    probe begin {
        a[1] = 0; b["x", 2] = 1
        printf("%d %d %d %d %d\n", 1 in a, 2 in a, ["x", 2] in b, ["x", 3] in b, !(5 in a))
        printf("%d %d\n", ["x", *] in b, [*, 9] in b)
    }"#;
    assert_eq!(out(s), "1 0 1 0 1\n1 0\n");
}

#[test]
fn if_else_while_for_break_continue() {
    let s = r#"probe begin {
        if (1) print("a") else print("b")
        if (0) print("c") else if (0) print("d") else print("e")
        i = 0; while (i < 10) { i++; if (i % 2) continue; if (i > 6) break; print(i) }
        for (j = 3; j > 0; j--) print(j)
        for (;;) { break }
        print("\n")
    }"#;
    assert_eq!(out(s), "ae246321\n");
}

#[test]
fn next_leaves_the_handler() {
    let s = r#"probe begin { print("a"); if (1) next; print("b") } probe begin { print("c\n") }"#;
    assert_eq!(out(s), "ac\n");
}

#[test]
fn delete_element_array_and_scalar() {
    let s = r#"global a, n, s, st
    probe begin {
        a[1] = 1; a[2] = 2; a[3] = 3; n = 5; s = "x"; st <<< 4
        delete a[2]; printf("%d %d ", 2 in a, 1 in a)
        delete a; printf("%d ", 1 in a)
        delete n; delete s; delete st
        printf("%d [%s] %d ", n, s, @count(st))
        x = 9; delete x; printf("%d\n", x)
    }"#;
    assert_eq!(out(s), "0 1 0 0 [] 0 0\n");
}

#[test]
fn delete_with_wildcards() {
    let s = r#"global a
    probe begin {
        a[1, "x"] = 1; a[1, "y"] = 2; a[2, "x"] = 3
        delete a[1, *]
        foreach ([k, v] in a) printf("%d %s\n", k, v)
    }"#;
    assert_eq!(out(s), "2 x\n");
}

#[test]
fn semicolons_are_optional_and_blocks_nest() {
    assert_eq!(
        out("probe begin { x = 1 y = 2; ; { { print(x + y) } } ;;; print(\"\\n\") }"),
        "3\n"
    );
}

#[test]
fn globals_with_initializers_sizes_and_many_keys() {
    let s = r#"global a, b = 5, c[100], s = "init", neg = -3
    global nine
    probe begin {
        a = b + neg
        c[1] = 2
        nine[1, 2, 3, 4, 5, 6, 7, 8, "nine"] = 9
        foreach ([k1, k2, k3, k4, k5, k6, k7, k8, k9] in nine)
            printf("%d %d %s %d %s\n", a, c[1], s, k8, k9)
        exit()
    }
    probe end { print(nine[1, 2, 3, 4, 5, 6, 7, 8, "nine"]) }"#;
    assert_eq!(out(s), "2 2 init 8 nine\n9");
}

#[test]
fn locals_are_per_handler_and_start_empty() {
    let s = r#"probe begin { x = 5 } probe begin { printf("[%d]", x) } probe begin { y = "s" } probe begin { printf("[%s]\n", y) }"#;
    let r = run(s, &[]);
    assert_eq!(r.out, "[0][]\n");
    // Reading a local nobody assigned is stap's warning, not an error.
    assert!(r.err.is_empty());
}

#[test]
fn a_global_and_a_function_share_a_name() {
    let s = r#"global execname
    function total() { return 3 }
    global total
    probe begin { execname[1] = execname(); total = total() + 1; printf("%d %d\n", total, strlen(execname[1]) > 0) }"#;
    assert_eq!(out(s), "4 1\n");
}

#[test]
fn script_arguments_as_numbers_and_strings() {
    let s = r#"probe begin { printf("%d %s %d %s\n", $1 + 1, @2, $#, @1 . @1) }"#;
    let r = run_full(s, &["41", "two words"], &[], 0, Default::default());
    assert_eq!(r.out, "42 two words 2 4141\n");
}
