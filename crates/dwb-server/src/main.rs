//! The `dwb` binary: parses the command line and hands over to `dwb_server::cli`.

use std::process::ExitCode;

/// jemalloc, not glibc's malloc: under load, glibc's per-thread arenas kept
/// the memory that requests freed, so the server's RSS grew to several times
/// its heap (a heap profile under the soak's mixed calls: a heap peak of 43
/// MiB while RSS passed 200 MiB); jemalloc reuses and returns it
/// (docs/benchmarks.md, Memory).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A background thread gives freed pages back to the system also while
    // the server is idle (otherwise only during later allocations). Without
    // it memory is still reused, so a failure here changes nothing else.
    #[cfg(not(target_env = "msvc"))]
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    match dwb_server::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
