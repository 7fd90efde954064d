//! Cost of one scrape's exposition: finishing (sorting, removing duplicates) and encoding about
//! 3,000 samples shaped like a node exporter scrape, as text 0.0.4, as OpenMetrics and with gzip.
//! The same families encoded by the `prometheus` crate's `TextEncoder` run beside them as the
//! reference.
//!
//! `cargo bench -p exporter-core --bench encode`

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion};
use exporter_core::encode::{encode, Format};
use exporter_core::sink::finish;
use exporter_core::{Desc, MetricFamily, MetricSink};

const CPU: Desc = Desc::counter(
    "node_cpu_seconds_total",
    "CPU time by mode.",
    &["cpu", "mode"],
);
const DISK: Desc = Desc::counter("node_disk_read_bytes_total", "Bytes read.", &["device"]);
const NET: Desc = Desc::counter(
    "node_network_receive_bytes_total",
    "Bytes received.",
    &["device"],
);
const FS: Desc = Desc::gauge(
    "node_filesystem_avail_bytes",
    "Available bytes.",
    &["device", "fstype", "mountpoint"],
);

/// Builds about 3,000 samples: per-CPU counters of 64 CPUs, and per-device families.
fn scrape() -> MetricSink {
    let mut sink = MetricSink::new();
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    for cpu in 0..64 {
        for mode in modes {
            sink.add(&CPU, &[&cpu.to_string(), mode], 12345.67 + cpu as f64);
        }
    }
    for family in 0..20 {
        let desc = match family % 3 {
            0 => &DISK,
            1 => &NET,
            _ => &DISK,
        };
        for device in 0..100 {
            let name = format!("dev{family}_{device}");
            sink.add(desc, &[&name], 1.5e9 + device as f64);
        }
    }
    for mount in 0..400 {
        let mountpoint = format!("/var/lib/containers/{mount}");
        sink.add(&FS, &["/dev/sda1", "ext4", &mountpoint], 1.2e11);
    }
    sink
}

fn families() -> Vec<MetricFamily> {
    finish(scrape().into_families())
}

/// Converts the families to the `prometheus` crate's protobuf structures.
fn to_prometheus(families: &[MetricFamily]) -> Vec<prometheus::proto::MetricFamily> {
    use prometheus::proto;
    families
        .iter()
        .map(|family| {
            let mut out = proto::MetricFamily::default();
            out.set_name(family.name.to_string());
            out.set_help(family.help.to_string());
            out.set_field_type(proto::MetricType::GAUGE);
            for sample in &family.samples {
                let mut metric = proto::Metric::default();
                let labels = sample
                    .labels
                    .iter()
                    .map(|(name, value)| {
                        let mut pair = proto::LabelPair::default();
                        pair.set_name(name.to_string());
                        pair.set_value(value.clone());
                        pair
                    })
                    .collect();
                metric.set_label(labels);
                let mut gauge = proto::Gauge::default();
                if let exporter_core::Value::Number(v) = sample.value {
                    gauge.set_value(v);
                }
                metric.set_gauge(gauge);
                out.mut_metric().push(metric);
            }
            out
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ready = families();
    let samples: usize = ready.iter().map(|f| f.samples.len()).sum();
    eprintln!("{samples} samples in {} families", ready.len());

    c.bench_function("finish (sort and dedupe)", |b| {
        b.iter_batched(
            scrape,
            |sink| black_box(sink.finish()),
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("encode text 0.0.4", |b| {
        b.iter(|| black_box(encode(&ready, Format::Text)))
    });
    c.bench_function("encode OpenMetrics", |b| {
        b.iter(|| black_box(encode(&ready, Format::OpenMetrics)))
    });
    c.bench_function("encode text and gzip", |b| {
        b.iter(|| {
            let text = encode(&ready, Format::Text);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            black_box(gz.finish().unwrap())
        })
    });

    let reference = to_prometheus(&ready);
    c.bench_function("prometheus crate: TextEncoder", |b| {
        use prometheus::Encoder;
        let encoder = prometheus::TextEncoder::new();
        b.iter(|| {
            let mut out = Vec::with_capacity(256 * 1024);
            encoder.encode(&reference, &mut out).unwrap();
            black_box(out)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
