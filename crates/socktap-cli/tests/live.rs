//! top's live view in a real terminal (tmux): it draws, shows traffic as
//! rows with their exact values, and its keys act: s sorts, p pauses, `+`
//! and `-` change the number of rows, `/` filters by command, q quits.

use std::process::Command;
use std::time::{Duration, Instant};

mod support;
use support::{privileged_with, run_workload, Rounds, BIN};

/// socktap top running in a tmux session of its own, killed when dropped.
struct Tmux {
    session: String,
}

impl Tmux {
    /// Starts `top_args` in a 132×30 terminal; after socktap exits the
    /// pane says `socktap-exited-STATUS` and stays.
    fn start(name: &str, top_args: &str) -> Tmux {
        let t = Tmux {
            session: format!("socktap-{name}-{}", std::process::id()),
        };
        let cmd = format!("'{BIN}' top {top_args}; echo socktap-exited-$?; sleep 30");
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            "132",
            "-y",
            "30",
            &cmd,
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Keys typed as text (`-l`: "-" is a key, not an option).
    fn keys(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", "--", text]);
    }

    fn enter(&self) {
        self.tmux(&["send-keys", "-t", &self.session, "Enter"]);
    }

    /// The first screen that `what` accepts, within 10 s; the last screen
    /// seen if none did (the caller's assertion shows it).
    fn wait_for(&self, what: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if what(&screen) || Instant::now() > deadline {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-session", "-t", &self.session]);
    }
}

#[test]
fn the_live_view_runs_in_a_real_terminal() {
    if !privileged_with("top live view", "tmux") {
        return;
    }
    let comm = "stwork-live";
    let t = Tmux::start("live", &format!("-i 0.3 -n {comm}"));
    let screen = t.wait_for(|s| s.contains("PROCESSES"));
    assert!(
        screen.contains("socktap top") && screen.contains("backend: tracepoint"),
        "{screen}"
    );
    assert!(
        screen.contains("#SEND") && screen.contains("COMMAND"),
        "{screen}"
    );
    // Traffic shows up as a row of the workload (the view keeps the last
    // interval with traffic while paused).
    let mut seen = String::new();
    for _ in 0..5 {
        let w = std::thread::spawn(move || run_workload(comm, None));
        let s = t.wait_for(|s| s.contains(comm));
        w.join().unwrap();
        if s.contains(comm) {
            seen = s;
            break;
        }
    }
    assert!(seen.contains(comm), "the workload never showed up:\n{seen}");
    let row = seen.lines().find(|l| l.contains(comm)).unwrap();
    assert!(row.contains("INET") || row.contains("LOCAL"), "{row}");
    // Keys: sort changes the status line, pause shows PAUSED, q quits.
    t.keys("s");
    let s = t.wait_for(|s| s.contains("sort: #send"));
    assert!(s.contains("sort: #send"), "{s}");
    t.keys("p");
    let s = t.wait_for(|s| s.contains("PAUSED"));
    assert!(s.contains("PAUSED"), "{s}");
    t.keys("q");
    let s = t.wait_for(|s| s.contains("socktap-exited-"));
    assert!(s.contains("socktap-exited-0"), "{s}");
    assert!(s.contains(" 0 lost"), "{s}");
}

/// The cells of the table rows on a screen that hold a `stlv-` command.
fn rows(screen: &str) -> Vec<Vec<String>> {
    screen
        .lines()
        .filter(|l| l.trim_start().starts_with('│') && l.contains(" stlv-"))
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The cells socktap must show for a process's row: PID UID #SEND #RECV
/// SEND_KB RECV_KB PROT FAMILY COMMAND.
fn cells(r: &Rounds, comm: &str) -> Vec<String> {
    let kb = (r.rounds * r.size / 1024).to_string();
    let n = r.rounds.to_string();
    let pid = r.pid().to_string();
    [pid.as_str(), "0", &n, &n, &kb, &kb, "UDP", "INET", comm]
        .map(str::to_string)
        .to_vec()
}

#[test]
fn rows_hold_exact_values_and_the_keys_resize_and_filter_them() {
    if !privileged_with("top live keys", "tmux") {
        return;
    }
    // One row to start with; 3 s intervals, so that the three processes'
    // traffic, a few milliseconds, most likely falls in one.
    let t = Tmux::start("keys", "-i 3 -N 1 -n stlv-a -n stlv-b -n stlv-c");
    t.wait_for(|s| s.contains("PROCESSES"));
    let mut attempt = 0;
    let (a, b, c) = loop {
        attempt += 1;
        // By bytes: c, then b, then a.
        let mut a = Rounds::held("stlv-a", 2, 100);
        let mut b = Rounds::held("stlv-b", 3, 2000);
        let mut c = Rounds::held("stlv-c", 4, 5000);
        for r in [&mut a, &mut b, &mut c] {
            r.go();
        }
        let s = t.wait_for(|s| s.contains(" stlv-c"));
        // Freeze that interval's rows, then show more of them.
        t.keys("p");
        t.wait_for(|s| s.contains("PAUSED"));
        assert_eq!(
            rows(&s),
            [cells(&c, "stlv-c")],
            "-N 1: the top row only:\n{s}"
        );
        t.keys("+");
        let s = t.wait_for(|s| rows(s).len() == 3);
        let want = [
            cells(&c, "stlv-c"),
            cells(&b, "stlv-b"),
            cells(&a, "stlv-a"),
        ];
        if rows(&s) == want {
            break (a, b, c);
        }
        // An interval ended in the middle of the traffic: once more.
        assert!(attempt < 3, "+: all three rows, by bytes:\n{s}");
        t.keys("p-");
    };
    t.keys("-");
    let s = t.wait_for(|s| rows(s).len() == 1);
    assert_eq!(rows(&s), [cells(&c, "stlv-c")], "-: back to one row:\n{s}");
    t.keys("/stlv-b");
    t.enter();
    let s = t.wait_for(|s| s.contains("filter: stlv-b") && rows(s).len() == 1);
    assert_eq!(rows(&s), [cells(&b, "stlv-b")], "/: only the match:\n{s}");
    t.keys("+");
    t.keys("s");
    let s = t.wait_for(|s| s.contains("sort: #send"));
    assert_eq!(rows(&s), [cells(&b, "stlv-b")], "the filter stays:\n{s}");
    t.keys("q");
    let s = t.wait_for(|s| s.contains("socktap-exited-"));
    assert!(s.contains("socktap-exited-0"), "{s}");
    drop(a);
}
