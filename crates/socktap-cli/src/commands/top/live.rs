//! top's live view: a ratatui table of the busiest processes, redrawn every
//! interval, with keys to pause, sort, filter by command and change the
//! number of rows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;
use socktap::aggregate::Device;
use socktap::tapset::names::{family_display_name, protocol_display_name};
use socktap::{Aggregator, Losses};

use super::report::{proc_rows, sort_rows, ProcRow, SortBy};
use crate::args::TopArgs;
use crate::shared::containers::Containers;
use crate::shared::time;

/// What the live view shows and how.
struct View {
    rows: Vec<ProcRow>,
    devices: Vec<Device>,
    sort: SortBy,
    paused: bool,
    filter: String,
    editing: bool,
    reports: u64,
    lost: Losses,
    backend: String,
    every: Duration,
    top: usize,
    show_devices: bool,
    show_containers: bool,
}

/// Runs the live view until q, a signal or -c; returns how many intervals it showed.
pub fn run(
    args: &TopArgs,
    every: Duration,
    agg: &mut Aggregator,
    stop: &AtomicBool,
    containers: Option<&Containers>,
) -> anyhow::Result<u64> {
    // try_init installs a panic hook that restores the terminal, so a bug
    // never leaves the user's shell in raw mode.
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let mut v = View {
        rows: Vec::new(),
        devices: Vec::new(),
        sort: SortBy::Bytes,
        paused: false,
        filter: String::new(),
        editing: false,
        reports: 0,
        lost: Losses::default(),
        backend: agg.plan().to_string(),
        every,
        top: args.rows,
        show_devices: args.devices,
        show_containers: containers.is_some(),
    };
    let result = live_loop(args, agg, stop, containers, &mut terminal, &mut v);
    // Restored before any error is printed, or it would land in the raw screen.
    ratatui::restore();
    result.map(|()| v.reports)
}

fn live_loop(
    args: &TopArgs,
    agg: &mut Aggregator,
    stop: &AtomicBool,
    containers: Option<&Containers>,
    terminal: &mut ratatui::DefaultTerminal,
    v: &mut View,
) -> anyhow::Result<()> {
    let mut next = Instant::now() + v.every;
    loop {
        terminal.draw(|f| draw(f, v))?;
        if stop.load(Ordering::SeqCst) || args.count.is_some_and(|c| v.reports >= c) {
            return Ok(());
        }
        // Wake for a key, the next interval, or at least every 200 ms so a
        // signal (which sets `stop` but does not interrupt the poll) is seen.
        let timeout = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        if event::poll(timeout)? {
            if let Event::Key(k) = event::read()? {
                // Terminals that report releases would act twice on each key.
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                // While typing a filter, every key is text, even q.
                if v.editing {
                    match k.code {
                        KeyCode::Enter | KeyCode::Esc => v.editing = false,
                        KeyCode::Backspace => {
                            v.filter.pop();
                        }
                        KeyCode::Char(c) => v.filter.push(c),
                        _ => {}
                    }
                    continue;
                }
                match k.code {
                    KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                    // Raw mode delivers Ctrl-C as a key, not as SIGINT.
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        return Ok(())
                    }
                    KeyCode::Char('p') | KeyCode::Char(' ') => v.paused = !v.paused,
                    KeyCode::Char('s') => {
                        v.sort = v.sort.next();
                        sort_rows(&mut v.rows, v.sort);
                    }
                    KeyCode::Char('/') | KeyCode::Char('f') => {
                        v.editing = true;
                        v.filter.clear();
                    }
                    KeyCode::Char('+') => v.top += 5,
                    KeyCode::Char('-') => v.top = v.top.saturating_sub(5).max(1),
                    _ => {}
                }
            }
        }
        if Instant::now() >= next {
            // From the schedule, not from now: intervals don't drift.
            next += v.every;
            // Each report covers one interval, paused or not: a pause
            // freezes the screen, not the counting.
            let mut rows = proc_rows(&agg.interval()?, containers);
            let devices = if v.show_devices {
                agg.devices_interval()?
            } else {
                Vec::new()
            };
            v.lost = agg.losses()?;
            v.reports += 1;
            if !v.paused {
                sort_rows(&mut rows, v.sort);
                v.rows = rows;
                v.devices = devices;
            }
        }
    }
}

/// A bordered table with a bold header; columns are (title, width), the
/// last one taking whatever room is left.
fn table<'a>(title: &'a str, columns: &[(&'a str, u16)], rows: Vec<Row<'a>>) -> Table<'a> {
    let header = Row::new(columns.iter().map(|c| c.0))
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED));
    let last = columns.len().saturating_sub(1);
    let widths: Vec<Constraint> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == last {
                Constraint::Min(c.1)
            } else {
                Constraint::Length(c.1)
            }
        })
        .collect();
    Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(title))
}

/// One frame: a status line, the processes, the devices (-d) and the keys.
fn draw(f: &mut Frame, v: &View) {
    let dev_height = if v.show_devices {
        (v.devices.len().min(v.top) + 3) as u16
    } else {
        0
    };
    let [head, procs, devs, help_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(dev_height),
        Constraint::Length(1),
    ])
    .areas(f.area());

    let status = format!(
        "socktap top — {} — every {}s — backend: {} — lost {} — sort: {}{}{}",
        time::ctime_now(),
        v.every.as_secs_f64(),
        v.backend,
        v.lost,
        v.sort.name(),
        if v.paused { " — PAUSED" } else { "" },
        if v.filter.is_empty() {
            String::new()
        } else {
            format!(" — filter: {}", v.filter)
        },
    );
    f.render_widget(Paragraph::new(status), head);

    let rows: Vec<Row> = v
        .rows
        .iter()
        .filter(|r| v.filter.is_empty() || r.comm.contains(&v.filter))
        .take(v.top)
        .map(|r| {
            let numbers = [
                u64::from(r.pid),
                u64::from(r.uid),
                r.sends,
                r.recvs,
                r.send_bytes / 1024,
                r.recv_bytes / 1024,
            ];
            let names = [
                protocol_display_name(i64::from(r.family), i64::from(r.protocol)).into_owned(),
                family_display_name(i64::from(r.family)).into_owned(),
                r.comm.clone(),
            ];
            let container = v
                .show_containers
                .then(|| r.container.clone().unwrap_or_else(|| "-".into()));
            Row::new(
                numbers
                    .map(|n| n.to_string())
                    .into_iter()
                    .chain(names)
                    .chain(container),
            )
        })
        .collect();
    let mut columns = vec![
        ("PID", 7),
        ("UID", 6),
        ("#SEND", 8),
        ("#RECV", 8),
        ("SEND_KB", 9),
        ("RECV_KB", 9),
        ("PROT", 8),
        ("FAMILY", 9),
        ("COMMAND", 15),
    ];
    if v.show_containers {
        columns.push(("CONTAINER", 20));
    }
    f.render_widget(table(" PROCESSES ", &columns, rows), procs);
    if v.show_devices {
        let rows: Vec<Row> = v
            .devices
            .iter()
            .take(v.top)
            .map(|d| {
                let numbers = [
                    d.tx_packets,
                    d.rx_packets,
                    d.tx_bytes / 1024,
                    d.rx_bytes / 1024,
                ];
                Row::new(
                    [d.name.clone()]
                        .into_iter()
                        .chain(numbers.map(|n| n.to_string())),
                )
            })
            .collect();
        let columns = [
            ("DEV", 16),
            ("#XMIT", 14),
            ("#RECV", 14),
            ("XMIT_KB", 16),
            ("RECV_KB", 16),
        ];
        f.render_widget(table(" DEVICES ", &columns, rows), devs);
    }
    let help = if v.editing {
        format!(
            "filter by command: {}▏ (Enter to apply, Esc to close)",
            v.filter
        )
    } else {
        "q quit  p pause  s sort  / filter  + - rows".to_string()
    };
    f.render_widget(Paragraph::new(Line::from(help)), help_area);
}
