//! The yardstick of `bench/login_storm.sh`: the CPU one argon2id verification costs on this
//! machine, measured through the same pool and memory reuse the server uses, so a login's cost
//! can be given as a multiple of it. Prints one JSON object.

use servicekonto::accounts::password::Hasher;
use servicekonto::secret::Secret;

/// This process's CPU time (user + system) in milliseconds, from `/proc/self/stat`.
fn cpu_ms() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).unwrap_or(&"0").parse::<f64>()? + fields.get(12).unwrap_or(&"0").parse::<f64>()?;
    // USER_HZ is 100 on Linux.
    Ok(ticks * 10.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let runs: u32 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(40);
    let pool = Hasher::new(1, 0);
    let password = || Secret::new("Bench1234!".to_string());
    // The first computation allocates the worker's memory; the server pays that once too.
    let stored = pool.hash(password()).await?;
    let started = std::time::Instant::now();
    let before = cpu_ms()?;
    for _ in 0..runs {
        anyhow::ensure!(pool.verify(password(), Some(stored.clone())).await?, "the hash does not verify");
    }
    let cpu = (cpu_ms()? - before) / f64::from(runs);
    let wall = started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
    println!("{{\"argon2id_cpu_ms\": {cpu:.2}, \"argon2id_wall_ms\": {wall:.2}, \"runs\": {runs}}}");
    Ok(())
}
