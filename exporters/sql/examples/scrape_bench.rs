//! Load generator for the scrape benchmark: CONCURRENCY clients fetch URL for SECONDS over
//! kept-alive connections, then the latency percentiles are printed. With PERIOD_MS each client
//! starts a request every PERIOD_MS milliseconds, as a Prometheus server does at its scrape
//! interval. Without it each client sends the next request as soon as the last one is done.
//!
//!     cargo run --release -p sql-exporter --example scrape_bench -- \
//!         URL [CONCURRENCY] [SECONDS] [PERIOD_MS]

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: scrape_bench URL [CONCURRENCY] [SECONDS] [PERIOD_MS]")?;
    let concurrency: usize = args.next().map_or(Ok(50), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let period: Option<Duration> = match args.next() {
        Some(ms) => Some(Duration::from_millis(ms.parse()?)),
        None => None,
    };

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // One request first, so that a wrong URL fails before the measurement.
    let first = client.get(&url).send().await?;
    let bytes = first.error_for_status()?.bytes().await?.len();

    let end = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let client = client.clone();
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            // Paced clients start at spread offsets so that they do not all fire at once.
            let mut ticker = period.map(|p| {
                let offset = p.mul_f64(worker as f64 / concurrency as f64);
                let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, p);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            while Instant::now() < end {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                let started = Instant::now();
                let outcome = match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => response.bytes().await,
                    Ok(_) => {
                        errors += 1;
                        continue;
                    }
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(_) => latencies.push(started.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }

    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mine, failed) = worker.await?;
        latencies.extend(mine);
        errors += failed;
    }
    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{url}: {} requests in {seconds}s ({:.0}/s), {errors} errors, {bytes} bytes per response, \
         latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0),
    );
    Ok(())
}
