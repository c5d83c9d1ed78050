//! Shared bits of the benchmark workloads.

/// Parses the n-th argument as a number, or returns the default.
pub fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Names the calling thread's process, so tracers can select it by comm.
pub fn name_process(name: &str) {
    let Ok(c) = std::ffi::CString::new(name) else {
        return;
    };
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (the kernel keeps 15 bytes).
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
}
