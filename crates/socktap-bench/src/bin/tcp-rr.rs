//! `tcp-rr [ROUNDS] [SIZE]`: a request/response loop over loopback TCP
//! between two threads (default 100,000 rounds of 64 bytes each way), and
//! prints its throughput as JSON.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let rounds = socktap_bench::arg(1, 100_000);
    let size = socktap_bench::arg(2, 64) as usize;
    socktap_bench::name_process("tcp-rr");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0; size];
        for _ in 0..rounds {
            s.read_exact(&mut buf)?;
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut buf = vec![0x5a; size];
    let start = Instant::now();
    for _ in 0..rounds {
        c.write_all(&buf)?;
        c.read_exact(&mut buf)?;
    }
    let secs = start.elapsed().as_secs_f64();
    server
        .join()
        .map_err(|_| std::io::Error::other("server thread panicked"))??;
    println!(
        "{{\"workload\":\"tcp-rr\",\"rounds\":{rounds},\"size\":{size},\"seconds\":{secs:.6},\"per_second\":{:.0}}}",
        rounds as f64 / secs
    );
    Ok(())
}
