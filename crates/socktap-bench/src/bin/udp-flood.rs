//! `udp-flood [COUNT] [SIZE] [RATE] [SOCKETS]`: sends COUNT datagrams of
//! SIZE bytes over loopback with sendto(2) (default 1,000,000 × 64),
//! optionally paced to RATE per second (0: as fast as it can), from SOCKETS
//! sockets in turn (default 1; each has a port of its own, so `--by port`
//! sees that many keys), and prints its throughput as JSON.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let count = socktap_bench::arg(1, 1_000_000);
    let size = socktap_bench::arg(2, 64) as usize;
    let rate = socktap_bench::arg(3, 0);
    let sockets = socktap_bench::arg(4, 1).max(1);
    socktap_bench::name_process("udp-flood");
    // A receiver nobody reads: the kernel drops what overflows its queue,
    // which costs the sender nothing extra.
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    let tx = (0..sockets)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let to = rx.local_addr()?;
    let buf = vec![0x5a; size];
    let start = Instant::now();
    for i in 0..count {
        tx[(i % sockets) as usize].send_to(&buf, to)?;
        if rate > 0 {
            // Pace in batches of 100 to keep the clock calls cheap.
            if i % 100 == 99 {
                let due = start + Duration::from_secs_f64((i + 1) as f64 / rate as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"workload\":\"udp-flood\",\"messages\":{count},\"size\":{size},\"seconds\":{secs:.6},\"per_second\":{:.0}}}",
        count as f64 / secs
    );
    Ok(())
}
