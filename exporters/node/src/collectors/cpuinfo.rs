//! The `--collector.cpu.info` part of the cpu collector: node_cpu_info and
//! node_cpu_frequency_hertz per logical CPU, and the flags and bugs of the first CPU, all from
//! /proc/cpuinfo.
//!
//! The x86 layout of /proc/cpuinfo is parsed: blocks of `key : value` lines, one block per
//! logical CPU, each starting with `processor`.
// NOTE: other architectures name their keys differently (arm64 has no `model name` or
// `physical id`), so there most labels of node_cpu_info stay empty.

use exporter_core::{Desc, MetricSink};
use regex::Regex;

const INFO: Desc = Desc::gauge(
    "node_cpu_info",
    "Identity of each logical CPU from /proc/cpuinfo; the value is always 1.",
    &[
        "package",
        "core",
        "cpu",
        "vendor",
        "family",
        "model",
        "model_name",
        "microcode",
        "stepping",
        "cachesize",
    ],
);
const FREQUENCY: Desc = Desc::gauge(
    "node_cpu_frequency_hertz",
    "Clock frequency of each logical CPU in hertz, from the cpu MHz line of /proc/cpuinfo.",
    &["package", "core", "cpu"],
);
const FLAG: Desc = Desc::gauge(
    "node_cpu_flag_info",
    "A flag of the first CPU in /proc/cpuinfo that matches --collector.cpu.info.flags-include.",
    &["flag"],
);
const BUG: Desc = Desc::gauge(
    "node_cpu_bug_info",
    "A bug of the first CPU in /proc/cpuinfo that matches --collector.cpu.info.bugs-include.",
    &["bug"],
);

/// One processor block of /proc/cpuinfo.
#[derive(Debug, Default, PartialEq)]
pub struct CpuInfo {
    pub processor: String,
    pub vendor: String,
    pub family: String,
    pub model: String,
    pub model_name: String,
    pub stepping: String,
    pub microcode: String,
    pub mhz: f64,
    pub cache_size: String,
    pub physical_id: String,
    pub core_id: String,
    pub flags: Vec<String>,
    pub bugs: Vec<String>,
}

impl CpuInfo {
    fn set(&mut self, key: &str, value: &str) {
        let words = || value.split_whitespace().map(str::to_owned).collect();
        match key {
            "vendor_id" | "vendor" => self.vendor = value.to_owned(),
            "cpu family" => self.family = value.to_owned(),
            "model" => self.model = value.to_owned(),
            "model name" => self.model_name = value.to_owned(),
            "stepping" => self.stepping = value.to_owned(),
            "microcode" => self.microcode = value.to_owned(),
            "cpu MHz" => self.mhz = value.parse().unwrap_or(0.0),
            "cache size" => self.cache_size = value.to_owned(),
            "physical id" => self.physical_id = value.to_owned(),
            "core id" => self.core_id = value.to_owned(),
            "flags" => self.flags = words(),
            "bugs" => self.bugs = words(),
            _ => {}
        }
    }
}

/// Parses /proc/cpuinfo into one entry per `processor` block. Lines without a colon are skipped.
pub fn parse(text: &str) -> Vec<CpuInfo> {
    let mut cpus: Vec<CpuInfo> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "processor" {
            cpus.push(CpuInfo {
                processor: value.to_owned(),
                ..CpuInfo::default()
            });
        } else if let Some(cpu) = cpus.last_mut() {
            cpu.set(key, value);
        }
    }
    cpus
}

/// Filters of the flag and bug families; a family without a filter is not exported.
pub struct InfoOptions {
    pub flags_include: Option<Regex>,
    pub bugs_include: Option<Regex>,
    /// Whether node_cpu_frequency_hertz is exported, which node_exporter does only while the
    /// cpufreq collector is enabled.
    pub frequency: bool,
}

/// Adds the families of `--collector.cpu.info` for the parsed `cpus`.
pub fn add_info(cpus: &[CpuInfo], options: &InfoOptions, sink: &mut MetricSink) {
    for cpu in cpus {
        let labels = [
            cpu.physical_id.as_str(),
            &cpu.core_id,
            &cpu.processor,
            &cpu.vendor,
            &cpu.family,
            &cpu.model,
            &cpu.model_name,
            &cpu.microcode,
            &cpu.stepping,
            &cpu.cache_size,
        ];
        sink.add(&INFO, &labels, 1.0);
        if options.frequency {
            let labels = [cpu.physical_id.as_str(), &cpu.core_id, &cpu.processor];
            sink.add(&FREQUENCY, &labels, cpu.mhz * 1e6);
        }
    }
    let Some(first) = cpus.first() else {
        return;
    };
    add_matching(&first.flags, options.flags_include.as_ref(), &FLAG, sink);
    add_matching(&first.bugs, options.bugs_include.as_ref(), &BUG, sink);
}

fn add_matching(values: &[String], filter: Option<&Regex>, desc: &Desc, sink: &mut MetricSink) {
    let Some(filter) = filter else {
        return;
    };
    for value in values.iter().filter(|v| filter.is_match(v)) {
        sink.add(desc, &[value], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 23
model\t\t: 49
model name\t: AMD EPYC 7R32
stepping\t: 0
microcode\t: 0x8301055
cpu MHz\t\t: 2799.998
cache size\t: 512 KB
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse2 avx avx2 aes
bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2

processor\t: 1
vendor_id\t: AuthenticAMD
cpu MHz\t\t: not-a-number
physical id\t: 0
core id\t\t: 1
flags\t\t: fpu
";

    #[test]
    fn parse_two_processors() {
        let cpus = parse(CPUINFO);
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].model_name, "AMD EPYC 7R32");
        assert_eq!(cpus[0].mhz, 2799.998);
        assert_eq!(cpus[0].flags, ["fpu", "sse2", "avx", "avx2", "aes"]);
        assert_eq!(cpus[1].core_id, "1");
        assert_eq!(cpus[1].mhz, 0.0);
    }

    #[test]
    fn flags_and_bugs_of_first_cpu() {
        let options = InfoOptions {
            flags_include: Some(Regex::new("^avx.?$").unwrap()),
            bugs_include: None,
            frequency: true,
        };
        let mut sink = MetricSink::new();
        add_info(&parse(CPUINFO), &options, &mut sink);
        let families = sink.finish();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_cpu_flag_info",
                "node_cpu_frequency_hertz",
                "node_cpu_info"
            ]
        );
        assert_eq!(families[0].samples.len(), 2);
        assert_eq!(families[2].samples.len(), 2);
    }
}
