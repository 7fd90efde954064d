//! Parser of /proc/stat, shared by the cpu and stat collectors.
//!
//! The format is described in proc(5). procfs-core's `KernelStats` is not used because it drops
//! the number of each `cpuN` line (so an offline CPU shifts the others) and has no `intr` or
//! `softirq` totals, and because one malformed line fails the whole file there.

use std::collections::BTreeMap;

use tracing::debug;

/// Ticks per second of the times in /proc/stat (`USER_HZ`). Linux reports these in units of
/// 1/100 s on every architecture, whatever the kernel's internal `HZ`.
pub const USER_HZ: f64 = 100.0;

/// Seconds one CPU spent in each mode, in the column order of /proc/stat.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

impl CpuTimes {
    /// Builds the times from the tick columns of a `cpu` line. Columns missing on old kernels,
    /// which print 4 to 9 of them, stay 0.
    fn from_ticks(ticks: &[f64]) -> CpuTimes {
        let column = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / USER_HZ;
        CpuTimes {
            user: column(0),
            nice: column(1),
            system: column(2),
            idle: column(3),
            iowait: column(4),
            irq: column(5),
            softirq: column(6),
            steal: column(7),
            guest: column(8),
            guest_nice: column(9),
        }
    }
}

/// The softirq vectors of the `softirq` line, in the kernel's order.
pub const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// The contents of /proc/stat that node_exporter exports. Missing lines leave their value 0.
#[derive(Debug, Default, PartialEq)]
pub struct ProcStat {
    /// Times of each CPU by its number; the aggregate `cpu` line is not kept.
    pub cpus: BTreeMap<u32, CpuTimes>,
    pub interrupts: u64,
    pub context_switches: u64,
    pub boot_time: u64,
    pub forks: u64,
    pub procs_running: u64,
    pub procs_blocked: u64,
    /// Calls per vector, in the order of [`SOFTIRQ_VECTORS`].
    pub softirqs: [u64; 10],
}

/// Parses the text of /proc/stat. A line that cannot be parsed is skipped and logged at debug
/// level.
pub fn parse(text: &str) -> ProcStat {
    let mut stat = ProcStat::default();
    for line in text.lines() {
        if let Err(reason) = parse_line(line, &mut stat) {
            debug!(line, reason, "Skipped a malformed line of /proc/stat");
        }
    }
    stat
}

fn parse_line(line: &str, stat: &mut ProcStat) -> Result<(), &'static str> {
    let mut fields = line.split_whitespace();
    let Some(key) = fields.next() else {
        return Ok(());
    };
    let first = fields.next().ok_or("no value")?;
    let integer = |text: &str| text.parse::<u64>().map_err(|_| "invalid integer");
    match key {
        "intr" => stat.interrupts = integer(first)?,
        "ctxt" => stat.context_switches = integer(first)?,
        "btime" => stat.boot_time = integer(first)?,
        "processes" => stat.forks = integer(first)?,
        "procs_running" => stat.procs_running = integer(first)?,
        "procs_blocked" => stat.procs_blocked = integer(first)?,
        "softirq" => {
            let counts: Vec<u64> = fields.map(integer).collect::<Result<_, _>>()?;
            if counts.len() < SOFTIRQ_VECTORS.len() {
                return Err("fewer than 10 softirq vectors");
            }
            stat.softirqs
                .copy_from_slice(&counts[..SOFTIRQ_VECTORS.len()]);
        }
        "cpu" => {}
        _ => {
            let Some(number) = key.strip_prefix("cpu") else {
                return Ok(());
            };
            let cpu = number.parse::<u32>().map_err(|_| "invalid CPU number")?;
            let ticks: Vec<f64> = std::iter::once(first)
                .chain(fields)
                .map(|t| t.parse::<f64>().map_err(|_| "invalid tick count"))
                .collect::<Result<_, _>>()?;
            stat.cpus.insert(cpu, CpuTimes::from_ticks(&ticks));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "\
cpu  500 10 300 9000 40 0 5 0 7 1
cpu0 200 4 100 4000 25 0 3 0 3 1
cpu2 300 6 200 5000 15 0 2 0 4 0
intr 123456 17 0 9
ctxt 987654
btime 1700000000
processes 4242
procs_running 3
procs_blocked 1
softirq 1000 1 2 3 4 5 6 7 8 9 10
";

    #[test]
    fn parse_keeps_cpu_numbers() {
        let stat = parse(STAT);
        let numbers: Vec<u32> = stat.cpus.keys().copied().collect();
        assert_eq!(numbers, [0, 2]);
        assert_eq!(stat.cpus[&2].user, 3.0);
        assert_eq!(stat.cpus[&0].guest_nice, 0.01);
    }

    #[test]
    fn parse_reads_totals() {
        let stat = parse(STAT);
        assert_eq!(stat.interrupts, 123456);
        assert_eq!(stat.context_switches, 987654);
        assert_eq!(stat.boot_time, 1700000000);
        assert_eq!(stat.forks, 4242);
        assert_eq!(stat.procs_running, 3);
        assert_eq!(stat.procs_blocked, 1);
        assert_eq!(stat.softirqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }

    #[test]
    fn old_eight_column_cpu_line() {
        let stat = parse("cpu0 100 2 50 1000 7 0 1 0\n");
        let cpu = stat.cpus[&0];
        assert_eq!(cpu.steal, 0.0);
        assert_eq!(cpu.guest, 0.0);
        assert_eq!(cpu.softirq, 0.01);
        assert_eq!(cpu.idle, 10.0);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let stat =
            parse("cpu0 100 x 50 1000\ncpuX 1 2 3 4\nctxt\nctxt abc\ncpu1 1 2 3 4\nbtime 5\n");
        assert_eq!(stat.cpus.len(), 1);
        assert!(stat.cpus.contains_key(&1));
        assert_eq!(stat.context_switches, 0);
        assert_eq!(stat.boot_time, 5);
    }
}
