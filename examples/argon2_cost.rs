//! The yardstick of `bench/login_storm.sh`: the CPU one argon2id verification costs on this
//! machine, measured through the same pool and memory reuse the server uses, so a login's cost
//! can be given as a multiple of it. Prints one JSON object.
//!   argon2_cost [RUNS (default 40)] [EVICT_MIB (default 0)]
//! With EVICT_MIB, that much other memory is written between two hashes (its CPU not counted),
//! as a server's other work does between two logins: the hash then starts with cold caches.

use servicekonto::accounts::password::Hasher;
use servicekonto::secret::Secret;

/// This process's CPU time in milliseconds, to the nanosecond: the sum over its threads of the
/// first field of `/proc/self/task/*/schedstat` (time on a CPU, in ns).
fn cpu_ms() -> anyhow::Result<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        ns += stat.split_whitespace().next().unwrap_or("0").parse::<u64>()?;
    }
    Ok(ns as f64 / 1e6)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(40);
    let evict_mib: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(0);
    let pool = Hasher::new(1, 0);
    let password = || Secret::new("Bench1234!".to_string());
    // The first computation allocates the worker's memory; the server pays that once too.
    let stored = pool.hash(password()).await?;
    let mut other = vec![0u8; evict_mib << 20];
    let (mut cpu, mut wall) = (0.0, 0.0);
    for round in 0..runs {
        for byte in other.iter_mut().step_by(64) {
            *byte = byte.wrapping_add(1);
        }
        let started = std::time::Instant::now();
        let before = cpu_ms()?;
        anyhow::ensure!(pool.verify(password(), Some(stored.clone())).await?, "the hash does not verify");
        cpu += cpu_ms()? - before;
        wall += started.elapsed().as_secs_f64() * 1000.0;
        // Keeps the writes above from being optimised away.
        anyhow::ensure!(other.first().is_none_or(|b| usize::from(*b) == (round as usize + 1) % 256));
    }
    let (cpu, wall) = (cpu / f64::from(runs), wall / f64::from(runs));
    println!("{{\"argon2id_cpu_ms\": {cpu:.2}, \"argon2id_wall_ms\": {wall:.2}, \"runs\": {runs}, \"evict_mib\": {evict_mib}}}");
    Ok(())
}
