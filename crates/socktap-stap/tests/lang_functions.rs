//! Script functions, every built-in function of the checklist, and
//! printf's formats, with exact output.

mod common;
use common::*;

#[test]
fn functions_with_and_without_type_marks() {
    let s = r#"
    function add(a, b) { return a + b }
    function greet:string(who:string, n:long) { return sprintf("%s#%d", who, n) }
    function nothing() { }
    function empty:string() { }
    probe begin { nothing(); printf("%d %s [%s]\n", add(2, 3), greet("x", 7), empty()) }"#;
    assert_eq!(out(s), "5 x#7 []\n");
}

#[test]
fn recursion_works_up_to_the_nesting_limit() {
    let s = r#"function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }
    probe begin { printf("%d\n", fib(10)) }"#;
    assert_eq!(out(s), "55\n");
    let s = r#"function down(n) { return n == 0 ? 0 : down(n - 1) }
    probe begin { printf("%d\n", down(5)) ; printf("%d\n", down(1000)) }"#;
    let r = run(s, &[]);
    assert_eq!(r.out, "0\n");
    assert_eq!(
        r.err,
        "ERROR: MAXNESTING exceeded near identifier 'down' at <input>:1:40\n"
    );
    assert!(r.failed);
}

#[test]
fn print_family() {
    let s = r#"probe begin {
        print(1, "a", 2); print("\n")
        println("x", 2)
        printd(", ", 1, "b", 3); print("\n")
        printdln(":", "a", 2)
        println()
        print_char(65); print_char(10)
        x = sprint(4, "y") . sprintln("z") . sprintd("-", 1, 2) . sprintdln("+", 3, "w") . sprintf("%03d", 7)
        print(x)
    }"#;
    assert_eq!(out(s), "1a2\nx2\n1, b, 3\na:2\n\nA\n4yz\n1-23+w\n007");
}

#[test]
fn printf_conversions() {
    let s = r#"probe begin {
        printf("%d|%i|%u|%x|%X|%o|%s|%c|%p|%%\n", -42, 42, -1, 255, 255, 8, "str", 65, 4096)
        printf("[%5d][%-5d][%05d][%+d][% d][%#x][%#o][%#X]\n", 42, 42, 42, 42, 42, 255, 8, 255)
        printf("[%.3d][%8.3d][%.2s][%-6s|][%6s]\n", 7, 7, "abcdef", "ab", "ab")
        printf("[%*d][%-*d][%.*s][%*.*d]\n", 4, 7, 4, 7, 2, "abcdef", 6, 3, 5)
        printf("[%ld][%lx]\n", 9, 255)
    }"#;
    assert_eq!(
        out(s),
        concat!(
            "-42|42|18446744073709551615|ff|FF|10|str|A|0x1000|%\n",
            "[   42][42   ][00042][+42][ 42][0xff][010][0XFF]\n",
            "[007][     007][ab][ab    |][    ab]\n",
            "[   7][7   ][ab][   005]\n",
            "[9][ff]\n"
        )
    );
}

#[test]
fn printf_binary_memory_and_char_escapes() {
    let r = run(
        r#"probe begin { printf("%b|%.2b|%1b", 0x0102030405060708, 0x0a0b, 65) }"#,
        &[],
    );
    assert_eq!(
        r.out.as_bytes(),
        &[8, 7, 6, 5, 4, 3, 2, 1, b'|', 0x0b, 0x0a, b'|', b'A'][..]
    );
    assert_eq!(
        out(
            r#"probe begin { printf("%.4m|%.3M|%m|%#c%#c%#c\n", "abcdef", "AZ\n", "xy", 10, 39, 200) }"#
        ),
        "abcd|415a0a|x|\\n\\'\\310\n"
    );
}

#[test]
fn printf_errors_are_semantic() {
    let e = compile_error(r#"probe begin { printf("%d %d\n", 1) }"#);
    assert!(e.starts_with("semantic error: Wrong number of args to formatted print operator: identifier 'printf' at <input>:1:15\n"), "{e}");
    let e = compile_error(r#"probe begin { printf("%d\n", "s") }"#);
    assert!(
        e.contains("semantic error: type mismatch: expected long but found string: string 's' at "),
        "{e}"
    );
    let e = compile_error(r#"probe begin { printf("%q\n", 1) }"#);
    assert!(e.contains("invalid or missing conversion specifier"), "{e}");
}

#[test]
fn log_warn_and_error() {
    let s = r#"probe begin { log("to stdout"); warn("careful"); error("boom"); print("never") }
    probe end { print("no end after an error") }
    probe error { print("error probe\n") }"#;
    let r = run(s, &[]);
    assert_eq!(r.out, "to stdout\nerror probe\n");
    assert_eq!(r.err, "WARNING: careful\nERROR: boom\n");
    assert!(r.failed);
}

#[test]
fn process_context_outside_events_is_socktaps_own() {
    let s = r#"probe begin { printf("%d %d %d %d %d %d %d %d %d %d\n", pid(), tid() > 0, ppid(), uid(), euid(), gid(), cpu() >= 0, target(), pexecname() != "", user_mode()) ; printf("%d|%s|%s|\n", strlen(execname()) > 0, pp(), probefunc()) }"#;
    // SAFETY: these getters cannot fail and have no preconditions.
    let (ppid, uid, euid, gid) = unsafe {
        (
            libc::getppid(),
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
        )
    };
    assert_eq!(
        out(s),
        format!(
            "{} 1 {ppid} {uid} {euid} {gid} 1 4242 1 0\n1|begin||\n",
            std::process::id()
        )
    );
}

#[test]
fn clocks_and_ctime() {
    let s = r#"probe begin {
        s = gettimeofday_s(); ms = gettimeofday_ms(); us = gettimeofday_us(); ns = gettimeofday_ns()
        printf("%d %d %d %d\n", ms / 1000 - s <= 1, us / 1000 - ms <= 1, ns / 1000 - us <= 1, local_clock_ns() > 0)
        printf("%s|%s|%s|%s\n", ctime(0), ctime(741484148), ctime(-1), ctime(2147483647))
        printf("%d %d\n", strlen(ctime()), strlen(tz_ctime(0)) > 25)
        printf("%d\n", isinstr(tz_ctime(0), tz_name()))
    }"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = out(s);
    assert_eq!(
        o,
        "1 1 1 1\nThu Jan  1 00:00:00 1970|Wed Jun 30 23:49:08 1993|Wed Dec 31 23:59:59 1969|Tue Jan 19 03:14:07 2038\n24 1\n1\n"
    );
    let r = run(r#"probe begin { printf("%d\n", gettimeofday_s()) }"#, &[]);
    let t: u64 = r.out.trim().parse().unwrap();
    assert!(t.abs_diff(now) < 5);
    let r = run(r#"probe begin { print(ctime(2147483648)) }"#, &[]);
    assert!(
        r.err.starts_with(
            "ERROR: Time too far in the future to be converted near identifier 'ctime'"
        ),
        "{}",
        r.err
    );
}

#[test]
fn string_functions() {
    let s = r#"probe begin {
        printf("%d %s|%s|%s ", strlen("hello"), substr("hello", 1, 3), substr("hello", 9, 2), substr("hello", 3, 99))
        printf("%d %d %d %d ", isinstr("hello", "ll"), isinstr("hello", "x"), strpos("hello", "l"), strpos("hello", "z"))
        printf("%s %s ", str_replace("a-b-c", "-", "+"), str_replace("aaa", "aa", "b"))
        printf("%s %s ", text_str("a\nb\"\\"), string_quoted("q"))
        printf("%d %d %d %d ", strtol("ff", 16), strtol("-42", 10), strtol("0x1f", 0), strtol("12abc", 10))
        printf("%s %s %d %d ", string(-42), sprint(7), isdigit("5x"), isdigit("x5"))
        printf("%d %d\n", stringat("abc", 1), abs(-5) + min(3, 4) * 10 + max(3, 4) * 100)
    }"#;
    assert_eq!(
        out(s),
        "5 ell||lo 1 0 2 -1 a+b+c ba a\\nb\\\"\\\\ \"q\" 255 -42 31 12 -42 7 1 0 98 435\n"
    );
    let r = run(r#"probe begin { stringat("abc", 3) }"#, &[]);
    assert_eq!(r.err, "ERROR: Position out of bounds\n");
}

#[test]
fn tokenize_continues_with_an_empty_string() {
    let s = r#"probe begin {
        t = tokenize("a,b,,c", ",")
        while (t != "") { printf("[%s]", t); t = tokenize("", ",") }
        printf(" [%s] [%s]\n", tokenize("", ","), tokenize("x y", " "))
        printf("[%s]\n", tokenize(" "))
    }"#;
    assert_eq!(out(s), "[a][b][c] [] [x]\n[y]\n");
}

#[test]
fn randint_stays_in_range() {
    let s = r#"global bad
    probe begin { for (i = 0; i < 500; i++) { r = randint(10); if (r < 0 || r >= 10) bad++ } printf("%d\n", bad) }"#;
    assert_eq!(out(s), "0\n");
    let r = run(r#"probe begin { randint(2000000) }"#, &[]);
    assert!(
        r.err
            .starts_with("ERROR: range too wide near identifier 'randint'"),
        "{}",
        r.err
    );
}

#[test]
fn the_socket_tapsets_tables() {
    let s = r#"probe begin {
        printf("%s %d %s %s ", sock_prot_num2str(6), sock_prot_str2num("UDP"), sock_prot_num2str(255), sock_prot_num2str(0))
        printf("%d %s %d %d ", sock_prot_str2num("udp"), sock_fam_num2str(2), sock_fam_str2num("INET6"), sock_fam_str2num("UNIX"))
        printf("%s %s %s %d ", sock_fam_num2str(1), sock_fam_num2str(40), sock_state_num2str(3), sock_state_str2num("FREE"))
        printf("%s %d %s %s ", sock_type_num2str(1), sock_type_str2num("DGRAM"), sock_type_num2str(9), sock_state_num2str(9))
        printf("[%s] [%s] [%s] [%s]\n", sock_flags_num2str(5), sock_flags_num2str(0), msg_flags_num2str(0x4040), msg_flags_num2str(4))
        printf("%s %s %s\n", errno_str(11), errno_str(104), errno_str(9999))
    }"#;
    assert_eq!(
        out(s),
        "TCP 17 UNDEF IP -1 INET 10 -1 LOCAL UNDEF CONNECTED 0 STREAM 2 UNDEF UNDEF [ASYNC_NOSPACE|NOSPACE] [] [DONTWAIT|NOSIGNAL] [DONTROUTE|TRYHARD]\nEAGAIN ECONNRESET E#9999\n"
    );
}
